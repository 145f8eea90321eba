import { IsBoolean, IsInt, IsOptional, Max, Min } from 'class-validator';

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

/** Injection token of the resolved `locks` options section. */
export const LOCK_OPTIONS = Symbol('LOCK_OPTIONS');

export type ResolvedLockOptions = Required<LockModuleOptions>;

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
  @IsOptional() @IsBoolean() releaseOnShutdown?: boolean;
  @IsOptional() @IsBoolean() events?: boolean;
}

/** The `locks` section with its defaults applied (validated by LockOptionsSchema first). */
export function resolveLockOptions(section: LockModuleOptions | undefined): ResolvedLockOptions {
  return { ...DEFAULT_LOCK_OPTIONS, ...section };
}
