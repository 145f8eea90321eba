/** What a lock handle is: an exclusive mutex, one permit of a semaphore, or a read / write hold. */
export type LockKind = 'mutex' | 'permit' | 'read' | 'write';

/** Options of `LockService.acquire()` and friends. Every field is optional. */
export interface AcquireOptions {
  /** How long the lock lives without renewal. Default `locks.defaultTtlMs` (30 s); at most `locks.maxTtlMs`. */
  ttlMs?: number;
  /** How long to wait for the lock; 0 fails at once. Default `locks.defaultWaitMs` (0 for tryAcquire). */
  waitMs?: number;
  /** Waiters of a higher priority are served first; equal priorities in arrival order. Integer -1000..1000, default 0. */
  priority?: number;
  /** Cancels the wait (LockAbortedError). Does not release a lock already acquired. */
  signal?: AbortSignal;
  /** Let the same owner take the lock again (a hold count); the fencing token stays that of the first hold. */
  reentrant?: boolean;
  /** Extend the lock at about ttl/3 while it is held. Default `locks.autoRenew` (true). */
  autoRenew?: boolean;
  /** Cap on total hold time with auto-renewal; the lock then expires and its signal fires. Default: none. */
  maxHoldMs?: number;
  /** Tenant of the lock; default the tenant of the current context. */
  tenant?: string;
  /**
   * Logical owner (for reentrancy and deadlock detection). Default: the owner of the enclosing
   * `withLock` / `runAsOwner` call, else a fresh id per acquisition (`<instanceId>:<token>`).
   */
  owner?: string;
}

/** Options of `acquirePermit()`: a counting semaphore. */
export interface PermitOptions extends Omit<AcquireOptions, 'reentrant' | 'priority'> {
  /** Number of permits of the semaphore; every caller of one key must pass the same. */
  permits: number;
}

/** Options of `acquireRead()` / `acquireWrite()`. */
export type ReadWriteOptions = Omit<AcquireOptions, 'reentrant' | 'priority'>;

/**
 * A mutex as every instance sees it, read by `LockService.inspect()`: who holds it (any instance
 * of the fleet), with which fencing token and for how long, and how many wait for it.
 *
 * @example
 * const { held, owner, fencingToken, expiresInMs, waiters } = await locks.inspect('crew-run:c-1', { tenant: 'acme' });
 */
export interface LockInspection {
  key: string;
  tenant: string;
  held: boolean;
  /** Owner of the holder (`<instanceId>:<token>` unless the caller named one); absent when free. */
  owner?: string;
  /** The holder's fencing token; absent when free. */
  fencingToken?: number;
  /** Time left before the hold expires without renewal, ms; absent when free. */
  expiresInMs?: number;
  /** Attempts queued for the lock (fair waiting), expired entries excluded. */
  waiters: number;
}

/** One lock this instance holds, as listed by `LockService.held()`. */
export interface HeldLockInfo {
  key: string;
  tenant: string;
  kind: LockKind;
  owner: string;
  token: string;
  /**
   * Strictly increasing per key, also after Redis lost its data or failed over to a replica that
   * missed the latest tokens: a token is at least the server's clock in microseconds (see
   * lua/fence.lua), so tokens are large safe integers, not 1, 2, 3.
   */
  fencingToken: number;
  acquiredAt: Date;
  expiresAt: Date;
  renewals: number;
  autoRenew: boolean;
}
