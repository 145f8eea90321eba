import { Inject, Injectable, Logger, Optional, type BeforeApplicationShutdown } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { LibraryEventEmitter } from '../events/library-event-emitter.js';
import { assertSafeId } from '../keys/key-builder.js';
import type { Lock, LockHooks } from './lock.js';
import { LockTimeoutError } from './lock.errors.js';
import { LockAcquirer } from './lock-acquirer.js';
import { LockContext } from './lock-context.js';
import { LockKeys } from './lock-keys.js';
import { LockObserver } from './lock-observer.js';
import { LockScheduler } from './lock-scheduler.js';
import { LockShutdown } from './lock-shutdown.js';
import { LOCK_ACQUIRE, LOCK_SECTION } from './lock.spans.js';
import { MutexPlan, PermitPlan, ReadWritePlan } from './lock-plans.js';
import { LOCK_STORE, type LockStore } from './lock-store.interface.js';
import { LOCK_OPTIONS, type ResolvedLockOptions } from './lock.options.js';
import type { AcquireOptions, HeldLockInfo, LockInspection, PermitOptions, ReadWriteOptions } from './lock.types.js';
import { checkAcquire, checkOptions, checkPermits } from './lock-validation.js';
import { thrownByCallback } from '../telemetry/tracing.js';

/**
 * Distributed locks: mutexes with fencing tokens, auto-renewal, fair / priority waiting with
 * pub/sub hand-off and deadlock detection; counting semaphores; read-write locks.
 *
 * Owners: an owner is a logical actor (for reentrancy and deadlock detection). It is the
 * `owner` option, else the owner of the enclosing `withLock()` / `runAsOwner()` call (an
 * AsyncLocalStorage context), else a fresh `<instanceId>:<token>` per acquisition.
 *
 * Deadlocks: the waiter whose wait closes a cycle gets `DeadlockError` at once; the others keep
 * waiting and are served once the victim lets go of what it holds. If two owners start waiting
 * on each other at the same instant, both may see the cycle (both are told), or neither does,
 * and the next heartbeat (waiterLeaseMs / 3) finds it.
 *
 * Outage: acquisition fails closed with RedisUnavailableError / CircuitOpenError, unless
 * `locks.unsafeLocalFallbackOnOutage` is on.
 *
 * Shutdown (beforeApplicationShutdown, before the connection closes): acquisitions fail with
 * LockShutdownError, every held lock's `signal` aborts with a LockShutdownError, and locks are
 * released as their holders let go, waiting up to `locks.shutdownGraceMs`; see LockShutdown.
 *
 * @example
 * const lock = await locks.acquire('invoice:42', { ttlMs: 10_000, waitMs: 2_000 });
 * try { await work(lock.signal); } finally { await lock.release(); }
 *
 * @example
 * await locks.withLock(`crew:${id}`, async (lock) => runCrew(id, lock.signal), { waitMs: 0 });
 */
@Injectable()
export class LockService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Coordination:Locks');
  private readonly keys: LockKeys;
  private readonly heldLocks = new Set<Lock>();
  /** Locks of `withLock` sections that have not returned yet. */
  private readonly sections = new Set<Lock>();
  /** Contended acquisitions in progress (their wait and its cleanup), awaited by the shutdown. */
  private readonly waits = new Set<Promise<unknown>>();
  private readonly shutdown: LockShutdown;
  private readonly context = new LockContext();
  private readonly acquirer: LockAcquirer;
  private readonly mutex: MutexPlan;
  private readonly permit: PermitPlan;
  private readonly read: ReadWritePlan;
  private readonly write: ReadWritePlan;

  constructor(
    private readonly core: CoordinationCore,
    @Inject(LOCK_OPTIONS) readonly options: ResolvedLockOptions,
    @Inject(LOCK_STORE) private readonly store: LockStore,
    @Optional() events?: LibraryEventEmitter,
  ) {
    this.keys = new LockKeys(core.keys);
    this.shutdown = new LockShutdown(this.heldLocks, this.sections, this.waits, options, this.logger);
    const observer = new LockObserver(core.metrics, events ?? null, () => core.clock.now(), { keys: core.keys, instanceId: core.instanceId }, options.events);
    const hooks: LockHooks = {
      clock: core.clock,
      maxTtlMs: this.options.maxTtlMs,
      scheduler: new LockScheduler(),
      tracer: core.telemetry.tracer,
      onExtended: (lock, renewal) => observer.extended(lock, renewal),
      onRenewalFailed: (lock) => observer.renewalFailed(lock),
      onReleased: (lock, published) => {
        this.heldLocks.delete(lock);
        observer.released(lock, published);
        if (this.shutdown.started) this.shutdown.left();
      },
      onLost: (lock, reason) => {
        this.heldLocks.delete(lock);
        observer.lost(lock, reason);
        this.logger.warn(`Lock "${lock.key}" (tenant ${lock.tenant}) lost: ${reason}`);
        if (this.shutdown.started) this.shutdown.left();
      },
      interruption: (lock) => this.shutdown.interruption(lock),
    };
    this.acquirer = new LockAcquirer(store, { core, options, keys: this.keys, observer, hooks, context: this.context, held: this.heldLocks, stop: this.shutdown.waitSignal, waits: this.waits });
    this.mutex = new MutexPlan(this.keys, observer, options.waiterLeaseMs);
    this.permit = new PermitPlan(this.keys);
    this.read = new ReadWritePlan(this.keys, options.waiterLeaseMs, 'read');
    this.write = new ReadWritePlan(this.keys, options.waiterLeaseMs, 'write');
  }

  /**
   * Acquires the mutex `key`, waiting up to `waitMs` (default `locks.defaultWaitMs`) in a fair
   * queue (higher `priority` first). Throws LockTimeoutError, LockAbortedError, DeadlockError,
   * InvalidArgumentError / InvalidKeyError (before any Redis call), RedisUnavailableError, or
   * LockShutdownError once the application is shutting down.
   */
  acquire(key: string, options: AcquireOptions = {}): Promise<Lock> {
    if (this.shutdown.started) return this.refuse(key, options, 'locks.acquire', this.mutex.kind);
    return this.acquirer.acquire(this.mutex, key, options, undefined);
  }

  /** Acquires without waiting; null when someone else holds the lock (or waiters are queued). Throws what `acquire` throws otherwise. */
  async tryAcquire(key: string, options: Omit<AcquireOptions, 'waitMs'> = {}): Promise<Lock | null> {
    try {
      return await this.acquire(key, { ...checkOptions(options), waitMs: 0 });
    } catch (error) {
      if (error instanceof LockTimeoutError) return null;
      throw error;
    }
  }

  /**
   * Runs `fn` holding the lock and releases it in `finally`. Inside `fn`, the lock is
   * `current()` and its owner is the current owner, so nested acquisitions share it
   * (reentrancy, deadlock detection). If `fn` succeeds but the lock was lost meanwhile,
   * LockLostError is thrown.
   *
   * At shutdown `lock.signal` aborts with a LockShutdownError and the lock is released once `fn`
   * returns; if it has not returned within `locks.shutdownGraceMs`, the lock is left to expire
   * by its TTL instead, never released while `fn` runs.
   */
  async withLock<T>(key: string, fn: (lock: Lock) => T | Promise<T>, options: AcquireOptions = {}): Promise<T> {
    const { tracer } = this.core.telemetry;
    if (!tracer.enabled) return this.section(key, fn, options);
    // Bad input throws before the span, as without tracing (acquire checks it again, untraced).
    checkAcquire(key, options, this.options, this.options.defaultWaitMs);
    // The span holds the whole section: acquisition, fn (and what it calls) and the release are its children.
    return tracer.trace(LOCK_SECTION, this.core.tenants.resolve(options?.tenant, 'locks.acquire'), key, () => this.section(key, fn, options));
  }

  /** withLock inside its span (or without one). */
  private async section<T>(key: string, fn: (lock: Lock) => T | Promise<T>, options: AcquireOptions): Promise<T> {
    const lock = await this.acquire(key, options);
    if (this.shutdown.started) {
      // Acquired while shutdown began: run nothing new, give it back at once.
      await lock.release().catch(() => undefined);
      throw this.shutdown.refusal(lock.key, lock.tenant);
    }
    this.sections.add(lock);
    let result: T;
    try {
      result = await this.context.runHolding(lock, () => fn(lock));
    } catch (error) {
      await lock.release().catch(() => undefined);
      this.sections.delete(lock);
      // Whatever fn threw (another lock's LockTimeoutError too) is a failure of the section, not its outcome.
      throw thrownByCallback(error);
    }
    try {
      await lock.release();
    } finally {
      this.sections.delete(lock);
    }
    return result;
  }

  /**
   * The innermost lock the current async context holds through `withLock()` or a `@WithLock`
   * method; undefined outside of one. Parallel sections each see their own. Work started
   * inside a section that outlives it still sees the lock, released by then: check
   * `isHeld()` or its `signal` before relying on it.
   *
   * @example
   * @WithLock('invoice:{0}')
   * async charge(invoiceId: string) {
   *   const lock = this.locks.current()!;
   *   await this.ledger.write(invoiceId, { fence: lock.fencingToken, signal: lock.signal });
   * }
   */
  current(): Lock | undefined {
    return this.context.lock();
  }

  /** Runs `fn` as `owner`: locks acquired inside belong to it unless they name another owner. */
  runAsOwner<T>(owner: string, fn: () => T): T {
    assertSafeId(owner, 'owner');
    return this.context.runAs(owner, fn);
  }

  /** Whether anyone holds the mutex `key` now. */
  async isLocked(key: string, options: { tenant?: string } = {}): Promise<boolean> {
    assertSafeId(key, 'key');
    const tenant = this.core.tenants.resolve(checkOptions(options).tenant, 'locks.isLocked');
    return (await this.store.holderOwner(this.keys.mutex(tenant, key).lock)) !== null;
  }

  /**
   * The mutex `key` as the whole fleet sees it, in one round trip: whether it is held, the
   * holder's owner, fencing token and time left, and how many attempts wait in its fair queue
   * (waiters whose lease ran out, e.g. of a crashed instance, are not counted). A snapshot: it
   * may have changed by the time it is read. Only reads; for mutexes (not semaphores or
   * read-write locks). Throws InvalidKeyError / TenantInvalidError on bad input before any
   * Redis call, RedisUnavailableError / CircuitOpenError while Redis is unreachable.
   *
   * @example
   * const crewLock = await locks.inspect(`crew-run:${crewId}`, { tenant: companyId });
   * if (crewLock.held) console.log(`run in progress, fencing token ${crewLock.fencingToken}, ${crewLock.waiters} waiting`);
   */
  async inspect(key: string, options: { tenant?: string } = {}): Promise<LockInspection> {
    assertSafeId(key, 'key');
    const tenant = this.core.tenants.resolve(checkOptions(options).tenant, 'locks.inspect');
    const { holder, waiters } = await this.store.inspectMutex(this.keys.mutex(tenant, key));
    if (holder === null) return { key, tenant, held: false, waiters };
    return { key, tenant, held: true, owner: holder.owner, fencingToken: holder.fencingToken, expiresInMs: holder.pttlMs, waiters };
  }

  /** The locks this instance holds now. */
  held(): HeldLockInfo[] {
    return [...this.heldLocks].map((lock) => lock.info());
  }

  /**
   * Takes one of `permits` permits of the semaphore `key`; each permit has its own expiry.
   *
   * @example
   * const permit = await locks.acquirePermit('llm-calls', { permits: 5, ttlMs: 30_000, waitMs: 10_000 });
   */
  async acquirePermit(key: string, options: PermitOptions): Promise<Lock> {
    if (this.shutdown.started) return this.refuse(key, options, 'locks.acquirePermit', this.permit.kind);
    const permits = checkPermits(options?.permits);
    return this.acquirer.acquire(this.permit, key, options, permits);
  }

  /** Shared hold of the read-write lock `key` (many readers, or one writer). */
  acquireRead(key: string, options: ReadWriteOptions = {}): Promise<Lock> {
    if (this.shutdown.started) return this.refuse(key, options, 'locks.acquireRead', this.read.kind);
    return this.acquirer.acquire(this.read, key, options, undefined);
  }

  /** Exclusive hold of the read-write lock `key`. A waiting writer turns new readers away. */
  acquireWrite(key: string, options: ReadWriteOptions = {}): Promise<Lock> {
    if (this.shutdown.started) return this.refuse(key, options, 'locks.acquireWrite', this.write.kind);
    return this.acquirer.acquire(this.write, key, options, undefined);
  }

  /**
   * Fence check at a protected resource kept in Redis: true (and the resource's fence is raised)
   * unless `fencingToken` is older than the newest token accepted for `resource` before (tokens
   * are unique per acquisition, so an equal token is the same holder writing again). For SQL, keep
   * a `fence` column and write with `UPDATE ... SET fence = $token WHERE id = $id AND fence <= $token`;
   * zero updated rows means a stale holder.
   *
   * @example
   * if (!(await locks.checkFence('invoice:42', lock.fencingToken))) throw new Error('stale lock holder');
   */
  async checkFence(resource: string, fencingToken: number, options: { tenant?: string } = {}): Promise<boolean> {
    assertSafeId(resource, 'resource');
    if (!Number.isSafeInteger(fencingToken) || fencingToken < 1) {
      throw new InvalidArgumentError('fencingToken', 'must be a positive integer', fencingToken);
    }
    const tenant = this.core.tenants.resolve(checkOptions(options).tenant, 'locks.checkFence');
    return this.store.checkFence(this.keys.fenceGuard(tenant, resource), fencingToken, this.options.fenceGuardRetentionMs);
  }

  /**
   * Stops taking locks, aborts the signals of held ones and waits (up to `locks.shutdownGraceMs`)
   * for their holders to let go before releasing; runs before CoordinationCore closes the
   * connection in onApplicationShutdown.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.shutdown.run();
  }

  /** An acquisition once shutdown began: key and tenant are still checked (bad input first); a lock.acquire span with status ERROR. */
  private async refuse(key: string, options: { tenant?: string } | undefined, operation: string, kind: string): Promise<Lock> {
    assertSafeId(key, 'key');
    const tenant = this.core.tenants.resolve(options?.tenant, operation);
    const refusal = this.shutdown.refusal(key, tenant);
    return this.core.telemetry.tracer.trace(LOCK_ACQUIRE, tenant, key, () => Promise.reject(refusal), kind);
  }
}
