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

/** One lock this instance holds, as listed by `LockService.held()`. */
export interface HeldLockInfo {
  key: string;
  tenant: string;
  kind: LockKind;
  owner: string;
  token: string;
  fencingToken: number;
  acquiredAt: Date;
  expiresAt: Date;
  renewals: number;
  autoRenew: boolean;
}

/** Options of the `locks` section of `CoordinationModule.forRoot()`. */
export interface LockModuleOptions {
  /** Default ttlMs. Default 30_000. */
  defaultTtlMs?: number;
  /** Default waitMs of `acquire()` / `withLock()`. Default 10_000. */
  defaultWaitMs?: number;
  /** Largest ttlMs (and waitMs) accepted; larger values are taken for bugs. Default 86_400_000 (24 h). */
  maxTtlMs?: number;
  /** Default of the autoRenew option. Default true. */
  autoRenew?: boolean;
  /** Waiters poll at this interval in case a wake-up message was lost. Default 1_000. */
  fallbackPollMs?: number;
  /** A wait queue entry not refreshed for this long is dropped (a crashed waiter). Default 10_000. */
  waiterLeaseMs?: number;
  /** Detect wait-for cycles between owners. Default true. */
  deadlockDetection?: boolean;
  /** Longest wait-for chain followed when looking for a cycle. Default 16. */
  deadlockMaxDepth?: number;
  /**
   * UNSAFE across instances: while Redis is unreachable, grant locks from a local in-process
   * table instead of failing with RedisUnavailableError. Another instance can hold the same lock.
   * Default false (fail closed).
   */
  unsafeLocalFallbackOnOutage?: boolean;
  /** Release the locks this instance holds on graceful shutdown. Default true. */
  releaseOnShutdown?: boolean;
  /** Emit lock.* events on the EventBus (one PUBLISH each). Metrics are kept either way. Default true. */
  events?: boolean;
}

export const DEFAULT_LOCK_OPTIONS: Required<LockModuleOptions> = {
  defaultTtlMs: 30_000,
  defaultWaitMs: 10_000,
  maxTtlMs: 86_400_000,
  autoRenew: true,
  fallbackPollMs: 1_000,
  waiterLeaseMs: 10_000,
  deadlockDetection: true,
  deadlockMaxDepth: 16,
  unsafeLocalFallbackOnOutage: false,
  releaseOnShutdown: true,
  events: true,
};
