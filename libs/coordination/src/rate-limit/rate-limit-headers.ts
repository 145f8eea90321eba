import type { RateLimitDecision, RateLimitResult, RateLimitSource } from './rate-limit.types.js';

const seconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000));

/** A policy as `RateLimit-Policy` advertises it. */
export interface AdvertisedPolicy {
  name: string;
  limit: number;
  windowMs: number;
  /** Who answered for it; `local` and `fail-closed` are advertised (`src`), the rest are not. */
  source?: RateLimitSource;
}

/** Sources that are not the shared limiter, named in the header so clients can tell. */
const FALLBACK_PARAMETER: Partial<Record<RateLimitSource, string>> = { local: ';src=local', 'fail-closed': ';src=fail-closed' };

/**
 * Whether `RateLimit-Policy` names this source (`src=`): the fallbacks that answer while Redis
 * is unreachable do, the shared limiter and its deny cache do not.
 *
 * @example
 * isFallback('local'); // true
 * isFallback('redis'); // false
 */
export function isFallback(source: RateLimitSource): boolean {
  return FALLBACK_PARAMETER[source] !== undefined;
}

/**
 * `RateLimit-Policy` per draft-ietf-httpapi-ratelimit-headers (-08 to -11): a structured-field
 * list of quota policies, `"name";q=<quota>;w=<window seconds>`. A policy answered by the
 * fallback while Redis was unreachable carries the extension parameter `src=local` (this
 * instance's share of the quota, see `rateLimit.onRedisUnavailable`) or `src=fail-closed`;
 * the draft has clients ignore parameters they do not know.
 *
 * @example
 * policyHeader([{ name: 'user', limit: 10, windowMs: 1_000 }]); // "user";q=10;w=1
 * policyHeader([{ name: 'user', limit: 10, windowMs: 1_000, source: 'local' }]); // "user";q=10;w=1;src=local
 */
export function policyHeader(policies: readonly AdvertisedPolicy[]): string {
  return policies
    .map((p) => `"${p.name}";q=${p.limit};w=${Math.max(1, seconds(p.windowMs))}${(p.source && FALLBACK_PARAMETER[p.source]) ?? ''}`)
    .join(', ');
}

/**
 * `RateLimit`: the current state per policy, `"name";r=<remaining>;t=<seconds until reset>`.
 *
 * @example
 * rateLimitHeader(decision.results); // "user";r=9;t=1 (9 left, the window resets in 1 s)
 */
export function rateLimitHeader(results: readonly RateLimitResult[]): string {
  // Built in place (not map + join): it is written on every guarded response.
  let header = '';
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    header += `${i === 0 ? '' : ', '}"${r.policy}";r=${r.remaining};t=${seconds(r.resetAfterMs)}`;
  }
  return header;
}

/** The result clients should watch: the denying one, else the one with the least remaining. */
export function tightest(decision: RateLimitDecision): RateLimitResult {
  if (decision.violated) return decision.violated;
  let best = decision.results[0];
  for (const r of decision.results) if (r.remaining < best.remaining) best = r;
  return best;
}

/** Legacy `X-RateLimit-Limit/Remaining/Reset` (reset in seconds) of the tightest policy. */
export function legacyHeaders(decision: RateLimitDecision): Record<string, string> {
  const r = tightest(decision);
  return { 'X-RateLimit-Limit': String(r.limit), 'X-RateLimit-Remaining': String(r.remaining), 'X-RateLimit-Reset': String(seconds(r.resetAfterMs)) };
}

/** `Retry-After` in whole seconds, at least 1. */
export function retryAfterSeconds(retryAfterMs: number | undefined): number {
  return Math.max(1, seconds(retryAfterMs ?? 1_000));
}
