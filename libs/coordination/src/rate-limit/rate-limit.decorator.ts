import { SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { RateLimitPolicy } from './rate-limit.types.js';

export const RATE_LIMIT_METADATA = 'coordination:rate-limit';
export const SKIP_RATE_LIMIT_METADATA = 'coordination:skip-rate-limit';

/**
 * Whose quota a rule counts:
 * - `user`: the authenticated user (`request.user.id`, `sub` or `userId`); anonymous requests count per IP;
 * - `tenant`: the tenant (company) of the request;
 * - `endpoint`: everyone of the request's tenant calling the handler (one counter per tenant);
 * - `global`: everyone calling the handler, whatever their tenant (one counter for all tenants,
 *   under its own hash tag); a named `global` rule is one counter for every handler using the name.
 *   Mixed with rules of other scopes, it is checked after them in a second script call, and a
 *   request it denies has been charged to them (see RateLimitCheck.global);
 * - `ip`: the client address (`X-Forwarded-For` only with `rateLimit.trustProxy`, read from the right);
 * - a function returning the key (a non-empty string), for anything else (API key, route param, ...).
 * Trackers longer than 128 characters are hashed.
 *
 * @example
 * // 100/min per company on the handler, and 500/min on the handler across all companies
 * @RateLimit([{ scope: 'endpoint', limit: 100, windowMs: 60_000 }, { scope: 'global', limit: 500, windowMs: 60_000 }])
 */
export type RateLimitScope = 'user' | 'tenant' | 'endpoint' | 'global' | 'ip' | ((context: ExecutionContext) => string | Promise<string>);

/**
 * One policy of a handler. Counters are identified by policy name and scope key: a named
 * rule is shared by every handler that uses the name; an unnamed rule counts per handler
 * (as @nestjs/throttler does) and is advertised as its scope (`"user"`, `"tenant"`, ...).
 */
export interface RateLimitRule extends RateLimitPolicy {
  /** Default `user`. */
  scope?: RateLimitScope;
}

export interface RateLimitMetadata {
  rules: readonly RateLimitRule[];
  /** Units each request takes from every rule. Default 1. */
  cost?: number;
  /**
   * Set when a rule has getters (e.g. a limit read from configuration loaded after the decorator
   * ran): the rules are then the objects given, read on every request, not copies fixed at decoration.
   */
  live?: true;
}

/**
 * Limits a handler (or every handler of a controller) with one or more policies, checked
 * atomically by `RateLimitGuard`: a request denied by one consumes from none. Metadata only;
 * register the guard per controller (`@UseGuards(RateLimitGuard)`) or globally (APP_GUARD).
 *
 * Rules of plain values are fixed when the decorator runs: it keeps frozen copies (the objects
 * given stay the caller's), so the guard, its hooks (`getTracker`, `generateKey`) and anyone
 * reading the metadata see the same rules, and the guard builds their policies once. A rule with
 * getters (a limit read from configuration that is loaded after the decorator ran) is kept as
 * given and read on every request.
 *
 * @example
 * @RateLimit([
 *   { scope: 'user', limit: 10, windowMs: 1_000 },
 *   { scope: 'tenant', name: 'company', limit: 1_000, windowMs: 60_000, algorithm: 'gcra' },
 * ])
 * @Post('crews/:id/run')
 * run() {}
 */
export const RateLimit = (rules: RateLimitRule | readonly RateLimitRule[], options: { cost?: number } = {}): MethodDecorator & ClassDecorator => {
  const given: readonly RateLimitRule[] = Array.isArray(rules) ? rules : [rules as RateLimitRule];
  if (given.some(hasAccessor)) return SetMetadata<string, RateLimitMetadata>(RATE_LIMIT_METADATA, { rules: given, cost: options.cost, live: true });
  const fixed = Object.freeze(given.map((rule) => Object.freeze({ ...rule })));
  return SetMetadata<string, RateLimitMetadata>(RATE_LIMIT_METADATA, Object.freeze({ rules: fixed, cost: options.cost }));
};

/** Whether `rule` has a getter or setter of its own: a copy would freeze what the getter returns now. */
function hasAccessor(rule: unknown): boolean {
  if (typeof rule !== 'object' || rule === null) return false;
  for (const descriptor of Object.values(Object.getOwnPropertyDescriptors(rule))) {
    if (descriptor.get !== undefined || descriptor.set !== undefined) return true;
  }
  return false;
}

/**
 * Exempts a handler (or controller) from `RateLimitGuard`, e.g. health checks under a global guard.
 *
 * @example
 * @SkipRateLimit()
 * @Get('health')
 * health() {}
 */
export const SkipRateLimit = (skip = true): MethodDecorator & ClassDecorator => SetMetadata(SKIP_RATE_LIMIT_METADATA, skip);
