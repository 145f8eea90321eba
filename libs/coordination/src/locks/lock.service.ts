import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, Optional, type BeforeApplicationShutdown } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { CircuitOpenError, InvalidArgumentError, RedisUnavailableError } from '../errors/coordination.error.js';
import { EventBus } from '../events/event-bus.js';
import { assertSafeId } from '../keys/key-builder.js';
import { DeadlockDetector } from './deadlock-detector.js';
import { Lock, driftMs, type LockHooks, type LockOperations } from './lock.js';
import { DeadlockError, LockTimeoutError } from './lock.errors.js';
import { LockKeys } from './lock-keys.js';
import { LockObserver } from './lock-observer.js';
import { LockScheduler } from './lock-scheduler.js';
import { LOCK_STORE, type LockStore, type MutexKeys, type MutexReply, type MutexRequest, type ReleaseReply, type SimpleReply } from './lock-store.interface.js';
import { LOCK_OPTIONS, type ResolvedLockOptions } from './lock.options.js';
import type { AcquireOptions, HeldLockInfo, LockKind, PermitOptions, ReadWriteOptions } from './lock.types.js';
import { checkAcquire, checkNotAborted, checkPermits, type CheckedAcquire } from './lock-validation.js';
import { LockWakeups } from './lock-wakeups.js';
import { abandonMutexWait, waitForMutex, waitForSimple, type Acquired, type WaitContext } from './lock-waiter.js';
import { MemoryLockStore } from './memory-lock.store.js';

class MutexOperations implements LockOperations {
  constructor(
    private readonly store: LockStore, private readonly keys: MutexKeys, private readonly token: string,
    /** Set when the store's release script publishes lock.released. */
    private readonly observer: LockObserver | null,
  ) {}
  get publishesReleased(): boolean {
    return this.observer !== null;
  }
  extend(ttlMs: number): Promise<boolean> {
    return this.store.extendMutex(this.keys, this.token, ttlMs);
  }
  release(lock: Lock): Promise<ReleaseReply> {
    return this.store.releaseMutex(this.keys, this.token, this.observer?.releasedByScript(lock));
  }
}

/** One place locks are kept: the Redis store, or the unsafe local fallback during an outage. */
interface Backend {
  store: LockStore;
  wakeups: LockWakeups;
  detector: DeadlockDetector | null;
}

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
  private readonly observer: LockObserver;
  private readonly main: Backend;
  private fallback?: Backend;
  private readonly owners = new AsyncLocalStorage<string>();
  private readonly hooks: LockHooks;
  /** Owner tokens: a random per-instance prefix and a counter; unique without a syscall per lock. */
  private readonly tokenPrefix = randomBytes(9).toString('base64url');
  private tokenCount = 0;

  constructor(
    private readonly core: CoordinationCore,
    @Inject(LOCK_OPTIONS) readonly options: ResolvedLockOptions,
    @Inject(LOCK_STORE) store: LockStore,
    @Optional() events?: EventBus,
  ) {
    this.keys = new LockKeys(core.keys);
    this.observer = new LockObserver(core.metrics, this.options.events ? events ?? null : null, () => core.clock.now(), { keys: core.keys, instanceId: core.instanceId });
    this.main = this.backend(store);
    this.hooks = {
      clock: core.clock,
      maxTtlMs: this.options.maxTtlMs,
      scheduler: new LockScheduler(),
      onExtended: (lock, renewal) => this.observer.extended(lock, renewal),
      onReleased: (lock, published) => {
        this.heldLocks.delete(lock);
        this.observer.released(lock, published);
      },
      onLost: (lock, reason) => {
        this.heldLocks.delete(lock);
        this.observer.lost(lock, reason);
        this.logger.warn(`Lock "${lock.key}" (tenant ${lock.tenant}) lost: ${reason}`);
      },
    };
  }

  /**
   * Acquires the mutex `key`, waiting up to `waitMs` (default `locks.defaultWaitMs`) in a fair
   * queue (higher `priority` first). Throws LockTimeoutError, LockAbortedError, DeadlockError,
   * InvalidArgumentError / InvalidKeyError (before any Redis call) or RedisUnavailableError.
   */
  async acquire(key: string, options: AcquireOptions = {}): Promise<Lock> {
    const checked = checkAcquire(key, options, this.options, this.options.defaultWaitMs);
    const tenant = this.core.tenants.resolve(options.tenant, 'locks.acquire');
    checkNotAborted(key, tenant, options.signal);
    return this.onBackend((backend) => this.acquireMutex(backend, key, tenant, checked, options));
  }

  /** Acquires without waiting; null when someone else holds the lock (or waiters are queued). */
  async tryAcquire(key: string, options: Omit<AcquireOptions, 'waitMs'> = {}): Promise<Lock | null> {
    try {
      return await this.acquire(key, { ...options, waitMs: 0 });
    } catch (error) {
      if (error instanceof LockTimeoutError) return null;
      throw error;
    }
  }

  /**
   * Runs `fn` holding the lock and releases it in `finally`. Inside `fn`, the lock's owner is
   * the current owner, so nested acquisitions share it (reentrancy, deadlock detection). If
   * `fn` succeeds but the lock was lost meanwhile, LockLostError is thrown.
   */
  async withLock<T>(key: string, fn: (lock: Lock) => T | Promise<T>, options: AcquireOptions = {}): Promise<T> {
    const lock = await this.acquire(key, options);
    let result: T;
    try {
      result = await this.owners.run(lock.owner, () => fn(lock));
    } catch (error) {
      await lock.release().catch(() => undefined);
      throw error;
    }
    await lock.release();
    return result;
  }

  /** Runs `fn` as `owner`: locks acquired inside belong to it unless they name another owner. */
  runAsOwner<T>(owner: string, fn: () => T): T {
    assertSafeId(owner, 'owner');
    return this.owners.run(owner, fn);
  }

  /** Whether anyone holds the mutex `key` now. */
  async isLocked(key: string, options: { tenant?: string } = {}): Promise<boolean> {
    assertSafeId(key, 'key');
    const tenant = this.core.tenants.resolve(options.tenant, 'locks.isLocked');
    return (await this.main.store.holderOwner(this.keys.mutex(tenant, key).lock)) !== null;
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
    const permits = checkPermits(options?.permits);
    return this.acquireSimple('permit', key, options, (backend, tenant, token, c, waiting) => {
      const keys = this.keys.semaphore(tenant, key);
      return {
        channel: keys.channel,
        attempt: () => backend.store.acquirePermit(keys, token, permits, c.ttlMs),
        ops: { extend: (ms) => backend.store.extendPermit(keys, token, ms), release: async () => ((await backend.store.releasePermit(keys, token)) ? 'released' : 'lost') },
        waiting,
      };
    });
  }

  /** Shared hold of the read-write lock `key` (many readers, or one writer). */
  acquireRead(key: string, options: ReadWriteOptions = {}): Promise<Lock> {
    return this.acquireReadWrite('read', key, options);
  }

  /** Exclusive hold of the read-write lock `key`. A waiting writer turns new readers away. */
  acquireWrite(key: string, options: ReadWriteOptions = {}): Promise<Lock> {
    return this.acquireReadWrite('write', key, options);
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
    const tenant = this.core.tenants.resolve(options.tenant, 'locks.checkFence');
    return this.main.store.checkFence(this.keys.fenceGuard(tenant, resource), fencingToken);
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.options.releaseOnShutdown) return;
    await Promise.all([...this.heldLocks].map((lock) => lock.release().catch(() => undefined)));
  }

  private async acquireMutex(backend: Backend, key: string, tenant: string, c: CheckedAcquire, options: AcquireOptions): Promise<Lock> {
    const startedAt = this.core.clock.now();
    const token = this.nextToken();
    const owner = options.owner ?? this.owners.getStore() ?? `${this.core.instanceId}:${token}`;
    const keys = this.keys.mutex(tenant, key);
    // Where the store can, the acquire and release scripts publish the lock events themselves.
    const scripted = backend.store.publishesEvents === true && this.observer.enabled;
    const request: MutexRequest = {
      token, owner, ttlMs: c.ttlMs, reentrant: c.reentrant, enqueue: c.waitMs > 0, priority: c.priority, leaseMs: this.options.waiterLeaseMs,
      event: scripted ? this.observer.acquiredByScript(key, 'mutex', owner, tenant) : undefined,
    };
    let first: MutexReply;
    try {
      first = await backend.store.acquireMutex(keys, request);
    } catch (error) {
      // The reply may be lost after the script queued us or even took the lock (an open
      // breaker sent nothing: nothing to undo).
      if (!(error instanceof CircuitOpenError)) abandonMutexWait(backend.store, keys, request);
      throw error;
    }
    let held: Acquired;
    if (first.acquired) {
      held = { ...first, at: startedAt };
    } else {
      this.observer.contended('mutex');
      if (c.waitMs === 0) {
        this.observer.timedOut('mutex', key, tenant, startedAt);
        throw new LockTimeoutError(key, 0, tenant);
      }
      try {
        // Later attempts are polls of a waiter: the event is emitted here, with the wait time.
        request.event = undefined;
        request.queued = true;
        held = await waitForMutex(this.waitContext(backend, 'mutex', key, tenant, keys.channel, c, options), keys, request, first, backend.detector, startedAt);
      } catch (error) {
        if (error instanceof LockTimeoutError) this.observer.timedOut('mutex', key, tenant, startedAt);
        if (error instanceof DeadlockError) this.observer.deadlock(key, tenant, error.cycle, startedAt);
        throw error;
      }
    }
    const ops = new MutexOperations(backend.store, keys, held.token, scripted ? this.observer : null);
    return this.track(new Lock({
      key, tenant, kind: 'mutex', owner, token: held.token, fencingToken: held.fencingToken, ttlMs: c.ttlMs,
      expiresAt: held.at + held.pttlMs - driftMs(held.pttlMs), autoRenew: c.autoRenew, maxHoldMs: c.maxHoldMs,
    }, ops, this.hooks), startedAt, !first.acquired, scripted && first.acquired);
  }

  private acquireReadWrite(kind: 'read' | 'write', key: string, options: ReadWriteOptions): Promise<Lock> {
    const mode = kind === 'read' ? 'r' : 'w';
    return this.acquireSimple(kind, key, options, (backend, tenant, token, c, waiting) => {
      const keys = this.keys.readWrite(tenant, key);
      const lease = this.options.waiterLeaseMs;
      return {
        channel: keys.channel,
        attempt: () => backend.store.acquireReadWrite(keys, mode, token, c.ttlMs, waiting, lease),
        ops: { extend: (ms) => backend.store.extendReadWrite(keys, mode, token, ms), release: async () => ((await backend.store.releaseReadWrite(keys, mode, token)) ? 'released' : 'lost') },
        abandon: mode === 'w' ? () => backend.store.abandonWrite(keys, token) : undefined,
        waiting,
      };
    });
  }

  private async acquireSimple(
    kind: LockKind, key: string, options: AcquireOptions,
    plan: (backend: Backend, tenant: string, token: string, c: CheckedAcquire, waiting: boolean) => {
      channel: string; attempt: () => Promise<SimpleReply>; ops: LockOperations;
      /** Cleanup when a wait fails (a writer's waiting flag). */
      abandon?: () => Promise<void>;
    },
  ): Promise<Lock> {
    const c = checkAcquire(key, options, this.options, this.options.defaultWaitMs);
    const tenant = this.core.tenants.resolve(options.tenant, `locks.${kind}`);
    checkNotAborted(key, tenant, options.signal);
    return this.onBackend(async (backend) => {
      const startedAt = this.core.clock.now();
      const token = this.nextToken();
      const owner = options.owner ?? this.owners.getStore() ?? `${this.core.instanceId}:${token}`;
      const { channel, attempt, ops, abandon } = plan(backend, tenant, token, c, c.waitMs > 0);
      let at = startedAt;
      let reply = await attempt();
      const contended = !reply.acquired;
      if (!reply.acquired) {
        this.observer.contended(kind);
        if (c.waitMs === 0) {
          this.observer.timedOut(kind, key, tenant, startedAt);
          throw new LockTimeoutError(key, 0, tenant);
        }
        try {
          const timed = async () => ((at = this.core.clock.now()), attempt());
          reply = await waitForSimple(this.waitContext(backend, kind, key, tenant, channel, c, options), timed, reply);
        } catch (error) {
          if (error instanceof LockTimeoutError) this.observer.timedOut(kind, key, tenant, startedAt);
          await abandon?.().catch(() => undefined);
          throw error;
        }
      }
      const held = reply as Extract<SimpleReply, { acquired: true }>;
      return this.track(new Lock({
        key, tenant, kind, owner, token, fencingToken: held.fencingToken, ttlMs: c.ttlMs,
        expiresAt: at + held.pttlMs - driftMs(held.pttlMs), autoRenew: c.autoRenew, maxHoldMs: c.maxHoldMs,
      }, ops, this.hooks), startedAt, contended);
    });
  }

  private waitContext(backend: Backend, kind: LockKind, key: string, tenant: string, channel: string, c: CheckedAcquire, options: AcquireOptions): WaitContext {
    const capability = kind === 'mutex' ? 'lock' : kind === 'permit' ? 'semaphore' : 'rwlock';
    return {
      store: backend.store, wakeups: backend.wakeups, pattern: this.keys.channelPattern(tenant, capability), channel, key, tenant,
      waitMs: c.waitMs, signal: options.signal, fallbackPollMs: this.options.fallbackPollMs, leaseMs: this.options.waiterLeaseMs,
      now: () => this.core.clock.now(),
    };
  }

  /** `published`: the acquire script already published lock.acquired. */
  private track(lock: Lock, startedAt: number, contended: boolean, published = false): Lock {
    this.heldLocks.add(lock);
    this.observer.acquired(lock, startedAt, contended, published);
    return lock;
  }

  private nextToken(): string {
    this.tokenCount = (this.tokenCount + 1) % Number.MAX_SAFE_INTEGER;
    return this.tokenPrefix + this.tokenCount.toString(36);
  }

  private backend(store: LockStore): Backend {
    const detector = this.options.deadlockDetection ? new DeadlockDetector(store, this.keys, this.options.deadlockMaxDepth) : null;
    return { store, wakeups: new LockWakeups(store), detector };
  }

  /** Runs on Redis; on an outage, fails closed unless the unsafe local fallback is enabled. */
  private onBackend<T>(run: (backend: Backend) => Promise<T>): Promise<T> {
    return run(this.main).catch((error: unknown) => {
      const outage = error instanceof RedisUnavailableError || error instanceof CircuitOpenError;
      if (!outage || !this.options.unsafeLocalFallbackOnOutage || this.main.store.kind === 'memory') throw error;
      this.logger.warn(`Redis unreachable: granting a LOCAL lock (locks.unsafeLocalFallbackOnOutage); other instances are not excluded`);
      this.fallback ??= this.backend(new MemoryLockStore(this.core.clock));
      return run(this.fallback);
    });
  }
}
