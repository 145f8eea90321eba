import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, Max, Min, ValidateNested } from 'class-validator';

/** The `rateLimit` section of `CoordinationModule.forRoot()` options. */
export interface RateLimitModuleOptions {
  /**
   * While Redis is unreachable: answer from a per-instance limiter (`local`), or deny (`fail-closed`).
   * The local limiter is sized by the fleet: each instance allows `ceil(limit / live instances)`,
   * the live instances being those it last saw heartbeating (see `heartbeatIntervalMs`), so that
   * the fleet together admits about `limit`, not `limit` per instance. Default `local`.
   *
   * Limits of that sizing: an instance that never completed a heartbeat (it started, or checked
   * its first rate limit, during the outage) knows of no fleet and admits the whole limit. The
   * count is of every instance under the module prefix that has checked any rate limit, not of
   * those serving one route; and instances configured with the same `instanceId` count as one.
   */
  onRedisUnavailable?: 'local' | 'fail-closed';
  /**
   * A check that Redis has not answered within this many ms is answered by the
   * `onRedisUnavailable` policy instead (result `source: 'local'` or `'fail-closed'`), so a
   * stalled Redis holds a request this long, not `connection.commandTimeoutMs`. The command
   * itself still runs if Redis answers later: it then counts there too, and its late answer is
   * dropped. Default 250.
   *
   * After such a check (or one that met an unreachable Redis) the checks that follow are answered
   * by the policy at once, without waiting, while one probe check per `timeoutMs` goes to Redis;
   * shared counting resumes after 3 probes in a row answered in time. A check that mixes global
   * and other counters (two script calls) waits `timeoutMs` in total, not per call.
   *
   * @example
   * CoordinationModule.forRoot({ connection: { url }, rateLimit: { timeoutMs: 100 } });
   */
  timeoutMs?: number;
  /**
   * How often each instance records in Redis that it is alive, under the module's prefix (one
   * sorted-set entry per instance, live for 3 heartbeats), and reads how many instances are,
   * from its first rate-limit check on (an app that checks no rate limit writes nothing). The
   * local fallback divides every limit by the count it read last (`RateLimitService.liveInstances`).
   * 0 turns it off: each instance's fallback then admits the whole limit. Default 5_000. See
   * `onRedisUnavailable` for which instances the count includes.
   */
  heartbeatIntervalMs?: number;
  /** Size of the local cache of blocked keys; 0 disables it. Default 10_000. */
  denyCacheMaxEntries?: number;
  /** Response headers of RateLimitGuard: IETF draft `RateLimit`/`RateLimit-Policy`, legacy `X-RateLimit-*`, both or none. Default `ietf`. */
  headers?: 'ietf' | 'legacy' | 'both' | 'none';
  /** Take the client IP of the `ip` scope from `X-Forwarded-For` (only behind a proxy you control). Default false. */
  trustProxy?: boolean;
  /**
   * With `trustProxy`: how many proxies in front of the app append to `X-Forwarded-For`. The
   * client is the entry that many from the right (entries further left are client-controlled). Default 1.
   */
  trustedProxies?: number;
  violations?: {
    /** Violations kept per tenant (older ones are dropped). Default 1_000. */
    maxPerTenant?: number;
    /** Violations of one key within `alertWindowMs` that fire `ratelimit.alert`. Default 100. */
    alertThreshold?: number;
    /** Default 60_000. */
    alertWindowMs?: number;
    /** Publish `ratelimit.violation` on the EventBus for every denial. Default true. */
    publish?: boolean;
    /** Violations are written in batches at most this often. Default 50. */
    flushIntervalMs?: number;
    /**
     * A tenant's violation log is deleted once nothing was appended to it for this long, so
     * logs of deleted tenants do not stay forever. Min 60_000. Default 604_800_000 (7 days).
     * @example
     * CoordinationModule.forRoot({ rateLimit: { violations: { retentionMs: 86_400_000 } } });
     */
    retentionMs?: number;
  };
}

/** Defaults of the `rateLimit` options section. */
export const DEFAULT_RATE_LIMIT_OPTIONS = {
  onRedisUnavailable: 'local',
  timeoutMs: 250,
  heartbeatIntervalMs: 5_000,
  denyCacheMaxEntries: 10_000,
  headers: 'ietf',
  trustProxy: false,
  trustedProxies: 1,
  violations: { maxPerTenant: 1_000, alertThreshold: 100, alertWindowMs: 60_000, publish: true, flushIntervalMs: 50, retentionMs: 604_800_000 },
} as const;

export type ResolvedRateLimitOptions = {
  onRedisUnavailable: 'local' | 'fail-closed';
  timeoutMs: number;
  heartbeatIntervalMs: number;
  denyCacheMaxEntries: number;
  headers: 'ietf' | 'legacy' | 'both' | 'none';
  trustProxy: boolean;
  trustedProxies: number;
  violations: { maxPerTenant: number; alertThreshold: number; alertWindowMs: number; publish: boolean; flushIntervalMs: number; retentionMs: number };
};

/** Injection token of the resolved `rateLimit` options section. */
export const RATE_LIMIT_OPTIONS = Symbol('RATE_LIMIT_OPTIONS');

/** The `rateLimit` section with its defaults applied (validated by RateLimitOptionsSchema first). */
export function resolveRateLimitOptions(raw: RateLimitModuleOptions = {}): ResolvedRateLimitOptions {
  const d = DEFAULT_RATE_LIMIT_OPTIONS;
  return {
    onRedisUnavailable: raw.onRedisUnavailable ?? d.onRedisUnavailable,
    timeoutMs: raw.timeoutMs ?? d.timeoutMs,
    heartbeatIntervalMs: raw.heartbeatIntervalMs ?? d.heartbeatIntervalMs,
    denyCacheMaxEntries: raw.denyCacheMaxEntries ?? d.denyCacheMaxEntries,
    headers: raw.headers ?? d.headers,
    trustProxy: raw.trustProxy ?? d.trustProxy,
    trustedProxies: raw.trustedProxies ?? d.trustedProxies,
    violations: { ...d.violations, ...raw.violations },
  };
}

class ViolationOptionsSchema {
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000) maxPerTenant?: number;
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000_000) alertThreshold?: number;
  @IsOptional() @IsInt() @Min(1) @Max(86_400_000) alertWindowMs?: number;
  @IsOptional() @IsBoolean() publish?: boolean;
  @IsOptional() @IsInt() @Min(1) @Max(60_000) flushIntervalMs?: number;
  @IsOptional() @IsInt() @Min(60_000) @Max(31_536_000_000) retentionMs?: number;
}

/** Validates the `rateLimit` section of CoordinationModule options. */
export class RateLimitOptionsSchema {
  @IsOptional() @IsIn(['local', 'fail-closed']) onRedisUnavailable?: string;
  @IsOptional() @IsInt() @Min(1) @Max(60_000) timeoutMs?: number;
  @IsOptional() @IsInt() @Min(0) @Max(3_600_000) heartbeatIntervalMs?: number;
  @IsOptional() @IsInt() @Min(0) @Max(10_000_000) denyCacheMaxEntries?: number;
  @IsOptional() @IsIn(['ietf', 'legacy', 'both', 'none']) headers?: string;
  @IsOptional() @IsBoolean() trustProxy?: boolean;
  @IsOptional() @IsInt() @Min(1) @Max(32) trustedProxies?: number;
  @IsOptional() @ValidateNested() @Type(() => ViolationOptionsSchema) violations?: ViolationOptionsSchema;
}
