import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { CoordinationCore } from '../core/coordination-core.js';
import { CircuitOpenError, RedisUnavailableError } from '../errors/coordination.error.js';
import { DeadlockDetector } from './deadlock-detector.js';
import { Lock, driftMs, type LockHooks, type LockOperations } from './lock.js';
import { DeadlockError, LockAbortedError, LockShutdownError, LockTimeoutError } from './lock.errors.js';
import type { LockContext } from './lock-context.js';
import type { LockKeys } from './lock-keys.js';
import type { LockObserver } from './lock-observer.js';
import type { Granted, LockStore, ScriptEvent } from './lock-store.interface.js';
import type { ResolvedLockOptions } from './lock.options.js';
import type { AcquireOptions, LockKind } from './lock.types.js';
import { checkAcquire, checkNotAborted, type CheckedAcquire } from './lock-validation.js';
import { LockWakeups } from './lock-wakeups.js';
import { LOCK_ACQUIRE } from './lock.spans.js';
import type { Acquired, WaitContext } from './lock-waiter.js';
import { MemoryLockStore } from './memory-lock.store.js';

/** One place locks are kept: the Redis store, or the unsafe local fallback during an outage. */
export interface Backend {
  store: LockStore;
  wakeups: LockWakeups;
  detector: DeadlockDetector | null;
}

/** The per-call state of one acquisition (the kind's store request, plus its keys). */
export interface LockCall {
  readonly token: string;
  readonly owner: string;
  readonly keys: { readonly channel: string };
  /** lock.acquired, when the first attempt's store call publishes it itself. */
  event?: ScriptEvent;
}

type Reply = Granted | { acquired: false };

/**
 * One kind of lock (mutex, permit, read, write) as the acquire outline drives it: how to build
 * a call, try it, wait for it and hold it. Plans are stateless; the service keeps one per kind.
 */
export interface LockPlan<C extends LockCall, R extends Reply, X = undefined> {
  readonly kind: LockKind;
  /** Names the operation in tenant errors (`locks.acquire`, ...). */
  readonly operation: string;
  /** The family of wake-up channels its waiters subscribe to. */
  readonly channels: 'lock' | 'semaphore' | 'rwlock';
  call(backend: Backend, key: string, tenant: string, token: string, owner: string, c: CheckedAcquire, extra: X): C;
  attempt(backend: Backend, call: C): Promise<R>;
  /** Cleanup after the first attempt failed: its reply may have been lost after it took effect. */
  attemptFailed?(backend: Backend, call: C, error: unknown): void;
  wait(backend: Backend, call: C, first: Exclude<R, Granted>, ctx: WaitContext, startedAt: number): Promise<Acquired>;
  /** Cleanup after a wait failed (timeout, abort, Redis error). */
  waitFailed?(backend: Backend, call: C): Promise<void>;
  operations(backend: Backend, call: C, granted: Granted): LockOperations;
}

/** What the outline shares with the LockService. */
export interface AcquirerSetup {
  core: CoordinationCore;
  options: ResolvedLockOptions;
  keys: LockKeys;
  observer: LockObserver;
  hooks: LockHooks;
  context: LockContext;
  /** The service's held locks; every acquired lock joins it. */
  held: Set<Lock>;
  /** Aborted when the service begins to shut down: waits in progress give up (LockShutdownError). */
  stop: AbortSignal;
  /** Waits in progress, for the shutdown to await once it aborted them. */
  waits: Set<Promise<unknown>>;
}

/**
 * The one acquire outline of every lock kind: validate, pick the backend (Redis, or the unsafe
 * local fallback during an outage), make a token and owner, try once, count contention, fail at
 * once for `waitMs: 0` or wait, then hold the lock (renewal, metrics, events). The kind-specific
 * steps come from its LockPlan.
 *
 * @example
 * const lock = await acquirer.acquire(mutexPlan, 'invoice:42', { waitMs: 2_000 }, undefined);
 */
export class LockAcquirer {
  private readonly logger = new Logger('Coordination:Locks');
  private readonly main: Backend;
  private fallback?: Backend;
  private readonly now = () => this.s.core.clock.now();
  /** Owner tokens: a random per-instance prefix and a counter; unique without a syscall per lock. */
  private readonly tokenPrefix = randomBytes(9).toString('base64url');
  private tokenCount = 0;
  /** `<instanceId>:`, the default owner's start (the token follows). */
  private readonly ownerPrefix: string;

  constructor(store: LockStore, private readonly s: AcquirerSetup) {
    this.main = this.backend(store);
    this.ownerPrefix = `${s.core.instanceId}:`;
  }

  /** Throws LockTimeoutError, LockAbortedError, DeadlockError, InvalidArgumentError / InvalidKeyError or RedisUnavailableError. */
  async acquire<C extends LockCall, R extends Reply, X>(plan: LockPlan<C, R, X>, key: string, options: AcquireOptions, extra: X): Promise<Lock> {
    const c = checkAcquire(key, options, this.s.options, this.s.options.defaultWaitMs);
    const tenant = this.s.core.tenants.resolve(options.tenant, plan.operation);
    checkNotAborted(key, tenant, options.signal);
    const owner = options.owner ?? this.s.context.owner();
    const { tracer } = this.s.core.telemetry;
    // Untraced (no SDK): no closure for the tracer to call.
    if (!tracer.enabled) return this.acquireAnywhere(plan, key, tenant, owner, c, options.signal, extra);
    return tracer.trace(LOCK_ACQUIRE, tenant, key, () => this.acquireAnywhere(plan, key, tenant, owner, c, options.signal, extra), plan.kind);
  }

  /** On Redis; during an outage, with the unsafe local fallback on, locally. */
  private acquireAnywhere<C extends LockCall, R extends Reply, X>(
    plan: LockPlan<C, R, X>, key: string, tenant: string, owner: string | undefined, c: CheckedAcquire, signal: AbortSignal | undefined, extra: X,
  ): Promise<Lock> {
    // Without the fallback (the default) there is nothing to catch: no async frame of its own.
    if (!this.s.options.unsafeLocalFallbackOnOutage) return this.acquireOn(this.main, plan, key, tenant, owner, c, signal, extra);
    return this.acquireFallingBack(plan, key, tenant, owner, c, signal, extra);
  }

  private async acquireFallingBack<C extends LockCall, R extends Reply, X>(
    plan: LockPlan<C, R, X>, key: string, tenant: string, owner: string | undefined, c: CheckedAcquire, signal: AbortSignal | undefined, extra: X,
  ): Promise<Lock> {
    try {
      return await this.acquireOn(this.main, plan, key, tenant, owner, c, signal, extra);
    } catch (error) {
      return this.acquireOn(this.fallbackFor(error), plan, key, tenant, owner, c, signal, extra);
    }
  }

  private async acquireOn<C extends LockCall, R extends Reply, X>(
    backend: Backend, plan: LockPlan<C, R, X>, key: string, tenant: string, owner: string | undefined, c: CheckedAcquire,
    signal: AbortSignal | undefined, extra: X,
  ): Promise<Lock> {
    const { observer } = this.s;
    const startedAt = this.now();
    const token = this.nextToken();
    const call = plan.call(backend, key, tenant, token, owner ?? this.ownerPrefix + token, c, extra);
    let first: R;
    try {
      first = await plan.attempt(backend, call);
    } catch (error) {
      plan.attemptFailed?.(backend, call, error);
      throw error;
    }
    let granted: Granted;
    let at = startedAt;
    if (first.acquired) {
      granted = first as Granted;
    } else {
      observer.contended(plan.kind);
      if (c.waitMs === 0) {
        observer.timedOut(plan.kind, key, tenant, startedAt);
        throw new LockTimeoutError(key, 0, tenant);
      }
      const waiting = this.waitFor(plan, backend, call, first as Exclude<R, Granted>, key, tenant, c, signal, startedAt);
      this.s.waits.add(waiting);
      const acquired = await waiting.finally(() => this.s.waits.delete(waiting));
      granted = acquired;
      at = acquired.at;
    }
    const lock = new Lock({
      key, tenant, kind: plan.kind, owner: call.owner, token: granted.token, fencingToken: granted.fencingToken, ttlMs: c.ttlMs,
      expiresAt: at + granted.pttlMs - driftMs(granted.pttlMs), autoRenew: c.autoRenew, maxHoldMs: c.maxHoldMs,
    }, plan.operations(backend, call, granted), this.s.hooks);
    this.s.held.add(lock);
    // The first attempt's store call published lock.acquired when it carried the event and acquired.
    observer.acquired(lock, startedAt, !first.acquired, first.acquired && call.event !== undefined);
    return lock;
  }

  /** The wait of a contended acquisition, with its cleanup when it fails (settles only after both). */
  private async waitFor<C extends LockCall, R extends Reply, X>(
    plan: LockPlan<C, R, X>, backend: Backend, call: C, first: Exclude<R, Granted>, key: string, tenant: string, c: CheckedAcquire,
    signal: AbortSignal | undefined, startedAt: number,
  ): Promise<Acquired> {
    const { observer } = this.s;
    try {
      return await plan.wait(backend, call, first, this.waitContext(backend, plan.channels, call, key, tenant, c, signal), startedAt);
    } catch (error) {
      if (error instanceof LockTimeoutError) observer.timedOut(plan.kind, key, tenant, startedAt);
      else if (error instanceof DeadlockError) observer.deadlock(key, tenant, error.cycle, startedAt);
      await plan.waitFailed?.(backend, call);
      // A wait ended by the shutdown (not the caller's signal) is a refusal like any acquisition then.
      if (error instanceof LockAbortedError && this.s.stop.aborted && error.cause === this.s.stop.reason) {
        throw new LockShutdownError(key, tenant, false, this.s.options.shutdownGraceMs);
      }
      throw error;
    }
  }

  private waitContext(
    backend: Backend, channels: 'lock' | 'semaphore' | 'rwlock', call: LockCall, key: string, tenant: string, c: CheckedAcquire, signal: AbortSignal | undefined,
  ): WaitContext {
    const { options, keys } = this.s;
    return {
      wakeups: backend.wakeups, pattern: keys.channelPattern(tenant, channels), channel: call.keys.channel, key, tenant,
      waitMs: c.waitMs, signal, stop: this.s.stop, fallbackPollMs: options.fallbackPollMs, leaseMs: options.waiterLeaseMs, now: this.now,
    };
  }

  private nextToken(): string {
    this.tokenCount = (this.tokenCount + 1) % Number.MAX_SAFE_INTEGER;
    return this.tokenPrefix + this.tokenCount.toString(36);
  }

  private backend(store: LockStore): Backend {
    const { options, keys } = this.s;
    const detector = options.deadlockDetection ? new DeadlockDetector(store, keys, options.deadlockMaxDepth, options.maxTtlMs + options.waiterLeaseMs) : null;
    return { store, wakeups: new LockWakeups(store), detector };
  }

  /** The backend to retry on after `error` on Redis; rethrows it unless it is an outage and the unsafe local fallback is on. */
  private fallbackFor(error: unknown): Backend {
    const outage = error instanceof RedisUnavailableError || error instanceof CircuitOpenError;
    if (!outage || !this.s.options.unsafeLocalFallbackOnOutage || this.main.store.kind === 'memory') throw error;
    this.logger.warn(`Redis unreachable: granting a LOCAL lock (locks.unsafeLocalFallbackOnOutage); other instances are not excluded`);
    // Fences from 1: a fallback holder's token must lose against every token Redis issued.
    this.fallback ??= this.backend(new MemoryLockStore(this.s.core.clock, false));
    return this.fallback;
  }
}
