/**
 * The five algorithms. All count in integer units (`cost`), and all answer with the same
 * result shape; they differ in how a burst at a window boundary is treated:
 * - `sliding-window`: exact log of admissions; never more than `limit` in any `windowMs`.
 * - `sliding-window-approx`: two fixed-window counters, the previous one weighted by its
 *   overlap with the sliding window; constant memory, small error when traffic is uneven.
 * - `fixed-window`: counter per window aligned to multiples of `windowMs`; allows up to
 *   2 × limit across a boundary, cheapest.
 * - `token-bucket`: capacity `burst` (default `limit`), refilled at `limit` per `windowMs`.
 * - `gcra`: same admission curve as a token bucket, one timestamp of state.
 */
export type RateLimitAlgorithm = 'sliding-window' | 'sliding-window-approx' | 'fixed-window' | 'token-bucket' | 'gcra';

export const RATE_LIMIT_ALGORITHMS: readonly RateLimitAlgorithm[] = [
  'sliding-window', 'sliding-window-approx', 'fixed-window', 'token-bucket', 'gcra',
];

/** One quota: `limit` units per `windowMs`. */
export interface RateLimitPolicy {
  /** Identifies the policy in keys, headers and violations. Default `<limit>-per-<windowMs>ms`. */
  name?: string;
  limit: number;
  windowMs: number;
  /** Default `sliding-window`. */
  algorithm?: RateLimitAlgorithm;
  /** Token bucket and GCRA: how many units may be taken at once. Default `limit`. */
  burst?: number;
}

export interface RateLimitCallOptions {
  /** Units this call takes. Default 1; must not exceed the limit (or burst). */
  cost?: number;
  /** Tenant whose namespace holds the counters. Default: the tenant in context. */
  tenant?: string;
}

export type ConsumeOptions = RateLimitPolicy & RateLimitCallOptions;

/**
 * Who answered: `redis`; `memory` (memory driver); `local` (this instance's fallback limiter,
 * sized by the fleet, while Redis is unreachable or silent past `rateLimit.timeoutMs`);
 * `deny-cache` (a key known to be blocked, answered without a round trip); `fail-closed` (Redis
 * unreachable or silent and `onRedisUnavailable: 'fail-closed'`).
 */
export type RateLimitSource = 'redis' | 'memory' | 'local' | 'deny-cache' | 'fail-closed';

export interface RateLimitResult {
  allowed: boolean;
  key: string;
  /** Name of the policy this result is for. */
  policy: string;
  limit: number;
  /** Units left after this call (or, when denied, before it); with `source: 'local'`, of this instance's share of the limit. */
  remaining: number;
  /** When the quota is fully restored if nothing more is consumed. */
  resetAt: Date;
  /** Same, relative: ms from the decision. Immune to clock skew between instances. */
  resetAfterMs: number;
  /** Set when denied: ms until a call of the same cost could pass. */
  retryAfterMs?: number;
  source: RateLimitSource;
}

/** One entry of a multi-policy check: a key and the policy that applies to it. */
export interface RateLimitCheck {
  key: string;
  policy: RateLimitPolicy;
  /** Free-form label recorded with violations (`user`, `tenant`, `endpoint`, `global`, `ip`, ...). */
  scope?: string;
  /**
   * Count across tenants: one counter for every tenant (and the shared namespace), instead of one
   * per tenant (or per `partition`). Global counters live in the shared namespace under their own
   * hash tag, apart from every tenant's slot. Default false.
   *
   * Mixed with checks that are not global, a check takes two script calls (a cluster runs no
   * script over two slots): the others first, all or none; then the global ones, only if the
   * others allowed. A request the global checks deny has then been charged to the others (once
   * per instance until the global retry time, the deny cache answering after that); every other
   * denial consumes from none. Without a mix, one atomic call as usual.
   *
   * @example
   * { key: 'exports', policy: { name: 'exports-all', limit: 500, windowMs: 60_000 }, global: true }
   */
  global?: boolean;
}

export interface ConsumeManyOptions extends RateLimitCallOptions {
  /**
   * Hash tag shared by every counter of the check, so one Lua script can check them all on
   * Redis Cluster. Default: one partition per tenant. Counters are identified by partition,
   * policy and key: use the same partition wherever the same counter is consumed.
   */
  partition?: string;
  /**
   * Count in the shared (tenant-less) namespace, even under `tenancy.required`: an explicit
   * opt-in, never a fall back. RateLimitGuard uses it for `@TenantOptional()` requests that
   * carry no tenant. Cannot be combined with `tenant`. Default false.
   *
   * @example
   * await rateLimits.consumeMany([{ key: `ip:${ip}`, policy: { name: 'ip', limit: 100, windowMs: 60_000 } }], { sharedNamespace: true });
   */
  sharedNamespace?: boolean;
}

/** Outcome of a multi-policy check: allowed only if every policy allowed (then all consumed). */
export interface RateLimitDecision {
  allowed: boolean;
  /**
   * One per check, in order; only the violated one when answered by the deny cache; only those
   * that are not global when they denied a check mixing global ones (see RateLimitCheck.global).
   */
  results: RateLimitResult[];
  /** The first denying policy's result. */
  violated?: RateLimitResult;
  source: RateLimitSource;
}

/** A recorded denial. */
export interface RateLimitViolation {
  /** When it happened (ms since the epoch, this instance's clock). */
  at: number;
  tenant: string;
  key: string;
  scope?: string;
  policy: string;
  algorithm: RateLimitAlgorithm;
  limit: number;
  windowMs: number;
  cost: number;
  retryAfterMs?: number;
  source: RateLimitSource;
  instanceId: string;
}

export interface ViolationQuery {
  /** Only violations at or after this time (Date or ms since the epoch). */
  since?: Date | number;
  scope?: string;
  key?: string;
  /** At most this many, newest first. Default 100. */
  limit?: number;
  tenant?: string;
}

/** Payload of `ratelimit.alert`: a key passed `threshold` violations within `windowMs`. */
export interface RateLimitAlert {
  tenant: string;
  key: string;
  violations: number;
  threshold: number;
  windowMs: number;
  at: number;
}
