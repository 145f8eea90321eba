import { IsBoolean, IsIn, IsInt, IsOptional, Max, Min, ValidateBy, type ValidationArguments } from 'class-validator';

/**
 * Which lock.* events are published on the EventBus (one PUBLISH each; metrics are kept in every mode):
 * - `'exceptional'`: what needs attention: lock.lost, lock.timeout, lock.deadlock, and lock.acquired
 *   of a contended acquisition (`contended: true`: it had to wait). An uncontended acquire +
 *   release publishes nothing: two small scripts.
 * - `'all'`: also lock.acquired of every uncontended acquisition, lock.released and lock.extended.
 * - `'none'`: no lock events.
 *
 * @example
 * // A dashboard that shows every lock as it is taken and given back needs them all:
 * CoordinationModule.forRoot({ connection: { url }, locks: { events: 'all' } });
 */
export type LockEventsMode = 'all' | 'exceptional' | 'none';

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
  /**
   * Graceful shutdown (`app.close()`, or a signal with `enableShutdownHooks()`): once it begins,
   * new acquisitions fail with LockShutdownError and the `signal` of every held lock aborts (its
   * reason a LockShutdownError). Then it waits up to `shutdownGraceMs` for the holders to let go:
   * `withLock` / `@WithLock` sections to return (their lock is released as they do), plain
   * `acquire()` locks to be released. A section still running after the grace period keeps its
   * lock: renewal stops and the lock expires by its TTL, never released under the section.
   * Default 10_000.
   */
  shutdownGraceMs?: number;
  /**
   * Release the plain `acquire()` locks still held when `shutdownGraceMs` ran out (their holders
   * were told through their signal). When false they are left to expire by their TTL like the
   * locks of sections still running. Default true.
   */
  releaseOnShutdown?: boolean;
  /**
   * A `checkFence` guard (the highest fencing token accepted for a resource) is deleted this long
   * after the last check of its resource; every check, accepted or refused, starts the period
   * again. A stale holder is refused as long as it writes within this time of losing its lock
   * (the newer holder checked after that); a later write finds no guard and is accepted, as on a
   * resource never checked. At least `maxTtlMs`. Default 604_800_000 (7 days).
   */
  fenceGuardRetentionMs?: number;
  /**
   * Which lock.* events are published on the EventBus (see LockEventsMode). `true` means `'all'`,
   * `false` means `'none'`. Default `'exceptional'`: lost, timeout, deadlock and contended
   * acquisitions; uncontended lock.acquired, lock.released and lock.extended only with `'all'`.
   */
  events?: LockEventsMode | boolean;
}

export const DEFAULT_LOCK_OPTIONS: ResolvedLockOptions = {
  defaultTtlMs: 30_000,
  defaultWaitMs: 10_000,
  maxTtlMs: 86_400_000,
  autoRenew: true,
  fallbackPollMs: 1_000,
  waiterLeaseMs: 10_000,
  deadlockDetection: true,
  deadlockMaxDepth: 16,
  unsafeLocalFallbackOnOutage: false,
  shutdownGraceMs: 10_000,
  releaseOnShutdown: true,
  fenceGuardRetentionMs: 604_800_000,
  events: 'exceptional',
};

/** Injection token of the resolved `locks` options section. */
export const LOCK_OPTIONS = Symbol('LOCK_OPTIONS');

export type ResolvedLockOptions = Required<Omit<LockModuleOptions, 'events'>> & { events: LockEventsMode };

/**
 * `fenceGuardRetentionMs` must be at least the largest TTL: a holder that neither renews nor
 * watches its signal may write up to a TTL after its lock expired, and must still be refused.
 * That is a floor, not a guarantee: a stale holder paused for longer than the retention (with no
 * check of the resource in between) finds no guard and is accepted, hence the 7-day default.
 */
function CoversMaxTtl(): PropertyDecorator {
  const maxTtlOf = (args: ValidationArguments) => (args.object as LockModuleOptions).maxTtlMs ?? DEFAULT_LOCK_OPTIONS.maxTtlMs;
  return ValidateBy({
    name: 'coversMaxTtl',
    validator: {
      validate: (value: unknown, args?: ValidationArguments) => typeof value === 'number' && args !== undefined && value >= maxTtlOf(args),
      defaultMessage: (args?: ValidationArguments) =>
        `must be at least locks.maxTtlMs (${args ? maxTtlOf(args) : DEFAULT_LOCK_OPTIONS.maxTtlMs} ms): raise it or lower maxTtlMs`,
    },
  });
}

/** Validates the `locks` section of the module options (see LockModuleOptions). */
export class LockOptionsSchema {
  @IsOptional() @IsInt() @Min(1) @Max(86_400_000) defaultTtlMs?: number;
  @IsOptional() @IsInt() @Min(0) @Max(86_400_000) defaultWaitMs?: number;
  @IsOptional() @IsInt() @Min(1) @Max(604_800_000) maxTtlMs?: number;
  @IsOptional() @IsBoolean() autoRenew?: boolean;
  @IsOptional() @IsInt() @Min(1) @Max(3_600_000) fallbackPollMs?: number;
  @IsOptional() @IsInt() @Min(100) @Max(3_600_000) waiterLeaseMs?: number;
  @IsOptional() @IsBoolean() deadlockDetection?: boolean;
  @IsOptional() @IsInt() @Min(1) @Max(256) deadlockMaxDepth?: number;
  @IsOptional() @IsBoolean() unsafeLocalFallbackOnOutage?: boolean;
  @IsOptional() @IsInt() @Min(0) @Max(3_600_000) shutdownGraceMs?: number;
  @IsOptional() @IsBoolean() releaseOnShutdown?: boolean;
  @IsOptional() @IsInt() @Max(31_536_000_000) @CoversMaxTtl() fenceGuardRetentionMs?: number;
  @IsOptional() @IsIn(['all', 'exceptional', 'none', true, false], { message: "must be 'all', 'exceptional' or 'none' (or a boolean: true = 'all', false = 'none')" })
  events?: LockEventsMode | boolean;
}

/** The `locks` section with its defaults applied (validated by LockOptionsSchema first). */
export function resolveLockOptions(section: LockModuleOptions | undefined): ResolvedLockOptions {
  const resolved = { ...DEFAULT_LOCK_OPTIONS, ...section };
  // `{ events: undefined }` (or null) overrides the default in the spread: it means the default too.
  const events = section?.events;
  return { ...resolved, events: events === true ? 'all' : events === false ? 'none' : events ?? DEFAULT_LOCK_OPTIONS.events };
}
