import { CoordinationError, ErrorCode } from '../errors/coordination.error.js';

/**
 * The lock was not acquired within `waitMs` (or at once, for `tryAcquire`). Mapped to HTTP 409
 * by `CoordinationExceptionFilter`.
 *
 * @example
 * try { await locks.acquire('crew:7', { waitMs: 500 }); }
 * catch (err) { if (err instanceof LockTimeoutError) return 'busy, try later'; throw err; }
 */
export class LockTimeoutError extends CoordinationError {
  static readonly code = ErrorCode.LockTimeout;
  constructor(readonly key: string, readonly waitedMs: number, readonly tenant: string) {
    super(ErrorCode.LockTimeout, `Lock "${key}" was not acquired within ${waitedMs} ms (option waitMs)`, { key, waitedMs, tenant });
  }
}

/**
 * The lock is no longer held by this holder (it expired, or renewal failed and another holder
 * took it). Raised by `release()` and `extend()`; the lock of the other holder is never touched.
 *
 * @example
 * lock.signal.addEventListener('abort', () => stopWork());
 * await lock.release(); // throws LockLostError when the lock was lost meanwhile
 */
export class LockLostError extends CoordinationError {
  static readonly code = ErrorCode.LockLost;
  constructor(readonly key: string, readonly reason: string, readonly tenant: string) {
    super(ErrorCode.LockLost, `Lock "${key}" is no longer held: ${reason}`, { key, reason, tenant });
  }
}

/**
 * The caller's AbortSignal fired while waiting for the lock; the wait queue entry was removed.
 *
 * @example
 * await locks.acquire('report', { waitMs: 60_000, signal: AbortSignal.timeout(1_000) });
 */
export class LockAbortedError extends CoordinationError {
  static readonly code = ErrorCode.LockAborted;
  constructor(readonly key: string, readonly tenant: string, cause?: unknown) {
    super(ErrorCode.LockAborted, `Waiting for lock "${key}" was aborted by the caller's signal`, { key, tenant }, { cause });
  }
}

/**
 * Waiting would close a cycle of owners each waiting for a lock another one holds. The waiter
 * whose wait closes the cycle receives this error at once (see LockService docs).
 *
 * @example
 * catch (err) { if (err instanceof DeadlockError) { await releaseMine(); retryLater(); } }
 */
export class DeadlockError extends CoordinationError {
  static readonly code = ErrorCode.Deadlock;
  constructor(readonly key: string, readonly cycle: readonly string[], readonly tenant: string) {
    super(
      ErrorCode.Deadlock,
      `Deadlock: waiting for lock "${key}" would close the cycle ${[...cycle, cycle[0]].join(' -> ')}`,
      { key, cycle, tenant },
    );
  }
}

/**
 * This instance is shutting down. As the rejection of an acquisition (`held: false`): new
 * acquisitions are refused once graceful shutdown began. As the `reason` of a held lock's
 * `signal` (`held: true`): stop and return (or release the lock) within `graceMs`
 * (`locks.shutdownGraceMs`); the lock is released once the `withLock` section returned, and
 * left to expire by its TTL if it did not return in time. Mapped to HTTP 503 by
 * `CoordinationExceptionFilter`: another instance can take the request.
 *
 * @example
 * await locks.withLock(`crew:${id}`, async (lock) => {
 *   for (const step of steps) {
 *     if (lock.signal.aborted) throw lock.signal.reason; // LockShutdownError when the app is stopping
 *     await step.run({ signal: lock.signal });
 *   }
 * });
 */
export class LockShutdownError extends CoordinationError {
  static readonly code = ErrorCode.LockShutdown;
  constructor(readonly key: string, readonly tenant: string, readonly held: boolean, readonly graceMs: number) {
    super(
      ErrorCode.LockShutdown,
      held
        ? `Lock "${key}" is wanted back: this instance is shutting down; stop and return within ${graceMs} ms (option locks.shutdownGraceMs), or the lock is left to expire by its TTL`
        : `Lock "${key}" was not acquired: this instance is shutting down and takes no new locks`,
      { key, tenant, held, graceMs },
    );
  }
}
