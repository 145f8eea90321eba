import type { ResolvedCoordinationOptions } from '../options/resolve-options.js';

/** The `rateLimit` section of `CoordinationModule.forRoot()` options. */
export interface RateLimitModuleOptions {
  /** While Redis is unreachable: answer from a per-instance limiter (`local`), or deny (`fail-closed`). Default `local`. */
  onRedisUnavailable?: 'local' | 'fail-closed';
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
  denyCacheMaxEntries: 10_000,
  headers: 'ietf',
  trustProxy: false,
  trustedProxies: 1,
  violations: { maxPerTenant: 1_000, alertThreshold: 100, alertWindowMs: 60_000, publish: true, flushIntervalMs: 50, retentionMs: 604_800_000 },
} as const;

export type ResolvedRateLimitOptions = {
  onRedisUnavailable: 'local' | 'fail-closed';
  denyCacheMaxEntries: number;
  headers: 'ietf' | 'legacy' | 'both' | 'none';
  trustProxy: boolean;
  trustedProxies: number;
  violations: { maxPerTenant: number; alertThreshold: number; alertWindowMs: number; publish: boolean; flushIntervalMs: number; retentionMs: number };
};

/** The `rateLimit` section of the module options with defaults applied (validated at startup). */
export function rateLimitOptionsOf(options: ResolvedCoordinationOptions): ResolvedRateLimitOptions {
  const raw: RateLimitModuleOptions = options.raw.rateLimit ?? {};
  const d = DEFAULT_RATE_LIMIT_OPTIONS;
  return {
    onRedisUnavailable: raw.onRedisUnavailable ?? d.onRedisUnavailable,
    denyCacheMaxEntries: raw.denyCacheMaxEntries ?? d.denyCacheMaxEntries,
    headers: raw.headers ?? d.headers,
    trustProxy: raw.trustProxy ?? d.trustProxy,
    trustedProxies: raw.trustedProxies ?? d.trustedProxies,
    violations: { ...d.violations, ...raw.violations },
  };
}
