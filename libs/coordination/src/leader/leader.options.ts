import { IsInt, IsOptional, Max, Min } from 'class-validator';

/**
 * Options of the `leader` section of `CoordinationModule.forRoot()`: leader election and
 * once-per-fleet (`@SingletonJob`) jobs.
 *
 * @example
 * CoordinationModule.forRoot({ connection: { url: process.env.REDIS_URL }, leader: { leaseMs: 5_000 } });
 */
export interface LeaderModuleOptions {
  /** Default term length of `campaign()` without renewal, ms. Default 10_000, 1_000..3_600_000. */
  leaseMs?: number;
  /** Default run lease of a `@SingletonJob`, ms. Default 60_000, 1_000..86_400_000. */
  jobLeaseMs?: number;
  /**
   * How late (after its scheduled time) a cron tick may still be claimed, ms: an instance whose
   * timer fired later than this skips the tick (others ran it). Default 60_000, 1_000..3_600_000.
   */
  jobMaxLatenessMs?: number;
  /** How long shutdown waits for running singleton jobs (their signals aborted) before resigning, ms. Default 10_000. */
  shutdownTimeoutMs?: number;
}

/**
 * @example
 * CoordinationModule.forRoot({ leader: { ...DEFAULT_LEADER_OPTIONS, leaseMs: 3_000 } });
 */
export const DEFAULT_LEADER_OPTIONS = {
  leaseMs: 10_000,
  jobLeaseMs: 60_000,
  jobMaxLatenessMs: 60_000,
  shutdownTimeoutMs: 10_000,
} as const;

/** The `leader` section with every default applied. */
export interface ResolvedLeaderOptions {
  leaseMs: number;
  jobLeaseMs: number;
  jobMaxLatenessMs: number;
  shutdownTimeoutMs: number;
}

/** Injection token of the resolved `leader` options section. */
export const LEADER_OPTIONS = Symbol('LEADER_OPTIONS');

/**
 * Bounds shared by the schema and the per-call validation of LeaderService and @SingletonJob.
 *
 * @example
 * const leaseMs = Math.min(Math.max(configuredMs, LEADER_LIMITS.leaseMs.min), LEADER_LIMITS.leaseMs.max);
 * leaders.campaign('billing', { leaseMs });
 */
export const LEADER_LIMITS = {
  leaseMs: { min: 1_000, max: 3_600_000 },
  jobLeaseMs: { min: 1_000, max: 86_400_000 },
  jobMaxLatenessMs: { min: 1_000, max: 3_600_000 },
  shutdownTimeoutMs: { min: 0, max: 600_000 },
  /** Longest role or job name, in characters. */
  nameLength: 100,
} as const;

const L = LEADER_LIMITS;

/** Validates the `leader` section of the module options (see LeaderModuleOptions). */
export class LeaderOptionsSchema {
  @IsOptional() @IsInt() @Min(L.leaseMs.min) @Max(L.leaseMs.max) leaseMs?: number;
  @IsOptional() @IsInt() @Min(L.jobLeaseMs.min) @Max(L.jobLeaseMs.max) jobLeaseMs?: number;
  @IsOptional() @IsInt() @Min(L.jobMaxLatenessMs.min) @Max(L.jobMaxLatenessMs.max) jobMaxLatenessMs?: number;
  @IsOptional() @IsInt() @Min(L.shutdownTimeoutMs.min) @Max(L.shutdownTimeoutMs.max) shutdownTimeoutMs?: number;
}

/** The `leader` section with its defaults applied (validated by LeaderOptionsSchema first). */
export function resolveLeaderOptions(section: LeaderModuleOptions | undefined): ResolvedLeaderOptions {
  const d = DEFAULT_LEADER_OPTIONS;
  const raw = section ?? {};
  return {
    leaseMs: raw.leaseMs ?? d.leaseMs,
    jobLeaseMs: raw.jobLeaseMs ?? d.jobLeaseMs,
    jobMaxLatenessMs: raw.jobMaxLatenessMs ?? d.jobMaxLatenessMs,
    shutdownTimeoutMs: raw.shutdownTimeoutMs ?? d.shutdownTimeoutMs,
  };
}
