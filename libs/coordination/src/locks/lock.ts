import type { Clock } from '../core/clock.js';
import { LockLostError } from './lock.errors.js';
import { DUE, type LockScheduler, type SchedulerTask } from './lock-scheduler.js';
import type { HeldLockInfo, LockKind } from './lock.types.js';
import { checkTtl } from './lock-validation.js';
import { LOCK_EXTEND, LOCK_RELEASE } from './lock.spans.js';
import type { CoordinationTracer } from '../telemetry/tracing.js';

/** The store calls behind one handle (a mutex, a permit, a read or a write hold). */
export interface LockOperations {
  extend(ttlMs: number): Promise<boolean>;
  /** `held`: reentrant hold count decremented, still held by the owner. */
  release(lock: Lock): Promise<'released' | 'held' | 'lost'>;
  /** True when release() publishes lock.released itself (in the release script). */
  readonly publishesReleased?: boolean;
}

/** Callbacks into the LockService (events, metrics, the held-locks table). */
export interface LockHooks {
  clock: Clock;
  maxTtlMs: number;
  /** Shared timer of the service's locks (renewals, expiry signals). */
  scheduler: LockScheduler;
  /** Spans of release() and extend(). */
  tracer: CoordinationTracer;
  onExtended(lock: Lock, renewal: boolean): void;
  /** An automatic renewal got no answer from Redis (it is retried while the lock may still be held). */
  onRenewalFailed(lock: Lock): void;
  /** `published`: the store already published lock.released. */
  onReleased(lock: Lock, published: boolean): void;
  onLost(lock: Lock, reason: string): void;
  /** Why the holder must stop although the lock is still held (the service is shutting down); undefined otherwise. */
  interruption(lock: Lock): Error | undefined;
}

export interface LockInit {
  key: string;
  tenant: string;
  kind: LockKind;
  owner: string;
  token: string;
  fencingToken: number;
  ttlMs: number;
  /** Local time by which the lock has surely expired in Redis (request start + pttl - drift). */
  expiresAt: number;
  autoRenew: boolean;
  maxHoldMs?: number;
}

/** Local clocks drift: trust a TTL a little less than Redis will (1 % + 2 ms, as Redlock does). */
export function driftMs(ttlMs: number): number {
  return Math.floor(ttlMs * 0.01) + 2;
}

/**
 * A held lock. `signal` aborts when the lock is lost (renewal failed, it expired, or the hold
 * cap was reached); `release()` / `extend()` then throw `LockLostError`. Renewal failures are
 * never thrown anywhere else, so a lost lock cannot become an unhandled rejection. `signal` also
 * aborts, with a `LockShutdownError`, when the application shuts down: the lock is still held
 * then, until the holder returns or releases it (see `locks.shutdownGraceMs`).
 *
 * @example
 * const lock = await locks.acquire('invoice:42', { ttlMs: 10_000 });
 * try {
 *   await chargeCustomer({ signal: lock.signal, fence: lock.fencingToken });
 * } finally {
 *   await lock.release();
 * }
 */
export class Lock implements SchedulerTask {
  readonly key: string;
  readonly tenant: string;
  readonly kind: LockKind;
  readonly owner: string;
  readonly token: string;
  /**
   * Strictly increasing per key, also after Redis lost its data or failed over to a replica that
   * missed the latest tokens (a token is at least the server clock in microseconds), so it is a
   * large number, not 1. Pass it to the
   * protected resource (`LockService.checkFence`, or a `fence` column) to refuse stale holders.
   */
  readonly fencingToken: number;
  readonly acquiredAt: number;
  readonly autoRenew: boolean;
  private expiry: number;
  private renewCount = 0;
  private state: 'held' | 'released' | 'lost' = 'held';
  private lostReason = '';
  /** What the next scheduler run does: renew, retry a failed renewal, or check expiry. */
  private next: 'renew' | 'expire' = 'expire';
  /** Set when a release failed: no more renewals, only the expiry check (signal, held()). */
  private releaseFailed = false;
  /** Set at shutdown past the grace period: no more renewals, Redis lets the lock expire. */
  private leftToExpire = false;
  /** Automatic renewals waiting for Redis: the expiry check stays armed meanwhile (see renew()). */
  private renewing = 0;
  /** The expiry check found a renewal in flight and waits one turn for a reply already read. */
  private expiryDeferred = false;
  /** Why the holder was told to stop while the lock is held (shutdown). */
  private interruption?: Error;
  /** Created on first access of `signal`: most locks never need one. */
  private controller?: AbortController;
  private readonly ttlMs: number;
  private readonly holdUntil: number;

  constructor(init: LockInit, private readonly ops: LockOperations, private readonly hooks: LockHooks) {
    this.key = init.key;
    this.tenant = init.tenant;
    this.kind = init.kind;
    this.owner = init.owner;
    this.token = init.token;
    this.fencingToken = init.fencingToken;
    this.ttlMs = init.ttlMs;
    this.expiry = init.expiresAt;
    this.autoRenew = init.autoRenew;
    this.acquiredAt = hooks.clock.now();
    this.holdUntil = init.maxHoldMs === undefined ? Infinity : this.acquiredAt + init.maxHoldMs;
    this.schedule();
  }

  /** Aborts when the lock is lost (reason: LockLostError) or the application shuts down (reason: LockShutdownError). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.state === 'lost') this.controller.abort(this.lostError());
      else if ((this.interruption ??= this.hooks.interruption(this))) this.controller.abort(this.interruption);
    }
    return this.controller.signal;
  }

  /** Local time (ms) until which the lock is surely held, unless lost earlier. */
  get expiresAt(): number {
    return this.expiry;
  }

  get renewals(): number {
    return this.renewCount;
  }

  /** True while held: not released, not lost, not past its expiry. */
  isHeld(): boolean {
    return this.state === 'held' && this.hooks.clock.now() < this.expiry;
  }

  /** Extends the lock to `ttlMs` from now (default: its original TTL). Throws LockLostError when no longer held. */
  async extend(ttlMs: number = this.ttlMs): Promise<void> {
    ttlMs = checkTtl(ttlMs, this.hooks.maxTtlMs);
    return this.hooks.tracer.trace(LOCK_EXTEND, this.tenant, this.key, () => this.extendHeld(ttlMs), this.fencingToken);
  }

  private async extendHeld(ttlMs: number): Promise<void> {
    this.assertHeld();
    const started = this.hooks.clock.now();
    if (!(await this.ops.extend(ttlMs))) {
      this.markLost('another holder has it or it expired (extend refused)');
      throw this.lostError();
    }
    this.expiry = started + ttlMs - driftMs(ttlMs);
    this.hooks.onExtended(this, false);
    this.schedule();
  }

  /**
   * Releases the lock. A second release is a no-op; releasing a lock that was lost throws
   * LockLostError and leaves whoever holds it now untouched.
   */
  release(): Promise<void> {
    const { tracer } = this.hooks;
    // Untraced (no SDK): no closure for the tracer to call.
    if (!tracer.enabled) return this.releaseHeld();
    return tracer.trace(LOCK_RELEASE, this.tenant, this.key, () => this.releaseHeld(), this.fencingToken);
  }

  private async releaseHeld(): Promise<void> {
    if (this.state === 'released') return;
    if (this.state === 'lost') throw this.lostError();
    if (this.leftToExpire) return this.letExpire();
    this.hooks.scheduler.cancel(this);
    let result: Awaited<ReturnType<LockOperations['release']>>;
    try {
      result = await this.ops.release(this);
    } catch (error) {
      // Redis unreachable: it may still hold the lock until expiry; fire the signal then.
      this.releaseFailed = true;
      this.schedule();
      throw error;
    }
    if (result === 'lost') {
      this.markLost('it expired or was taken over before release');
      throw this.lostError();
    }
    this.state = 'released';
    this.hooks.onReleased(this, this.ops.publishesReleased === true);
  }

  /** `await using lock = await locks.acquire(...)` releases at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  info(): HeldLockInfo {
    return {
      key: this.key, tenant: this.tenant, kind: this.kind, owner: this.owner, token: this.token,
      fencingToken: this.fencingToken, acquiredAt: new Date(this.acquiredAt), expiresAt: new Date(this.expiry),
      renewals: this.renewCount, autoRenew: this.autoRenew,
    };
  }

  /**
   * @internal Tells the holder to stop (its signal aborts with `reason`) while the lock stays
   * held and renewed: graceful shutdown, before it waits for the holder to let go.
   */
  interrupt(reason: Error): void {
    if (this.state !== 'held' || this.interruption) return;
    this.interruption = reason;
    this.controller?.abort(reason);
  }

  /**
   * @internal Stops renewing and leaves the lock to expire by its TTL in Redis: shutdown past its
   * grace period, with the holder still running. Never released under the holder; its later
   * `release()` only ends the handle.
   */
  leaveToExpire(): void {
    if (this.state !== 'held') return;
    this.leftToExpire = true;
    this.schedule();
  }

  /** Marks the lock lost (signal, event). Used by renewal, expiry and the service. */
  markLost(reason: string): void {
    if (this.state !== 'held') return;
    this.state = 'lost';
    this.lostReason = reason;
    this.hooks.scheduler.cancel(this);
    this.controller?.abort(this.lostError());
    this.hooks.onLost(this, reason);
  }

  private assertHeld(): void {
    if (this.state === 'lost') throw this.lostError();
    if (this.state === 'released') throw new LockLostError(this.key, 'it was released', this.tenant);
    if (this.hooks.clock.now() >= this.expiry) {
      this.markLost('it expired');
      throw this.lostError();
    }
  }

  /** release() of a lock left to expire: the connection may be closed; Redis keeps it until its TTL. */
  private letExpire(): void {
    if (this.hooks.clock.now() >= this.expiry) {
      this.markLost('it expired (left to expire at shutdown)');
      throw this.lostError();
    }
    this.hooks.scheduler.cancel(this);
    this.state = 'released';
  }

  private lostError(): LockLostError {
    return new LockLostError(this.key, this.lostReason || 'it is no longer held', this.tenant);
  }

  /** Next run: a renewal at ~ttl/3 while renewing, else the expiry (to fire the signal). */
  private schedule(): void {
    if (this.state !== 'held') return this.hooks.scheduler.cancel(this);
    const now = this.hooks.clock.now();
    const renewing = this.autoRenew && !this.releaseFailed && !this.leftToExpire && now < this.holdUntil;
    this.next = renewing ? 'renew' : 'expire';
    const delay = renewing ? Math.max(1, Math.min(this.ttlMs / 3, this.expiry - now - 1)) : Math.max(0, this.expiry - now);
    this.hooks.scheduler.schedule(this, delay, renewing);
  }

  /** @internal Called by the LockScheduler. */
  [DUE](): void {
    if (this.next === 'renew') void this.renew();
    else this.expireNow();
  }

  private expireNow(deferred = false): void {
    if (this.hooks.clock.now() < this.expiry) return this.renewing > 0 ? this.checkExpiryAt() : this.schedule();
    // Timers run before I/O callbacks: after a stalled event loop the renewal's reply may already
    // be read but not handled yet. Handle it first (setImmediate runs after the I/O of this turn).
    if (this.renewing > 0 && !deferred) {
      if (this.expiryDeferred) return;
      this.expiryDeferred = true;
      setImmediate(() => {
        this.expiryDeferred = false;
        if (this.state === 'held' && this.next === 'expire' && this.hooks.clock.now() >= this.expiry) this.expireNow(true);
      });
      return;
    }
    const reason = this.leftToExpire
      ? 'it expired (left to expire at shutdown)'
      : this.releaseFailed ? 'it expired after a failed release'
      : this.renewing > 0 ? 'it expired while its renewal got no answer from Redis' : 'it expired (not renewed)';
    this.markLost(this.hooks.clock.now() >= this.holdUntil ? 'maxHoldMs reached' : reason);
  }

  /** The next run is the expiry check, at the local expiry. */
  private checkExpiryAt(): void {
    this.next = 'expire';
    this.hooks.scheduler.schedule(this, Math.max(0, this.expiry - this.hooks.clock.now()), false);
  }

  /** Never throws: every failure ends in a retry, or in markLost. */
  private async renew(): Promise<void> {
    if (this.state !== 'held') return;
    if (this.leftToExpire) return this.schedule();
    const started = this.hooks.clock.now();
    const ttlMs = Math.min(this.ttlMs, this.holdUntil - started);
    // A renewal Redis does not answer (a partition that drops packets: no reply, no error until
    // the command timeout, which may be longer than what is left of the TTL) must not keep the
    // lock "held" past its expiry, when Redis may grant it to another: the lock is lost at its
    // local expiry at the latest, answered or not.
    this.renewing += 1;
    this.checkExpiryAt();
    try {
      if (ttlMs <= 0 || !(await this.ops.extend(ttlMs))) {
        if (ttlMs <= 0) return this.schedule();
        return this.markLost('renewal refused: another holder has it or it expired');
      }
      // (A cast: TypeScript keeps `state` narrowed to 'held' across the await.)
      if ((this.state as Lock['state']) === 'lost') {
        // Reported lost at its expiry before this reply: Redis has just extended it for our token
        // and nothing else would release it (others would wait up to a TTL). The release script
        // deletes it only while the token is still ours.
        void this.ops.release(this).catch(() => undefined);
        return;
      }
      if (this.state !== 'held') return;
      this.expiry = started + ttlMs - driftMs(ttlMs);
      this.renewCount += 1;
      this.hooks.onExtended(this, true);
      this.schedule();
    } catch {
      // Redis unreachable: retry soon while the lock may still be ours, then give it up.
      if (this.state !== 'held') return;
      this.hooks.onRenewalFailed(this);
      if (this.leftToExpire) return this.schedule();
      const left = this.expiry - this.hooks.clock.now();
      if (left <= 0) return this.markLost('renewal failed: Redis unreachable until the lock expired');
      this.next = 'renew';
      this.hooks.scheduler.schedule(this, Math.max(1, Math.min(this.ttlMs / 10, left / 2)), true);
    } finally {
      this.renewing -= 1;
    }
  }
}
