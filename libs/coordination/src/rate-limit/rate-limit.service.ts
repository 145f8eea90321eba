import { Inject, Injectable, Optional, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { EventBus } from '../events/event-bus.js';
import { SHARED_TENANT, assertSafeId } from '../keys/key-builder.js';
import { RateLimitDecider } from './rate-limit-decider.js';
import { normalizeCost, normalizePolicy, type NormalizedPolicy } from './rate-limit-policy.js';
import { RATE_LIMIT_STORE, type RateLimitStore } from './rate-limit-store.interface.js';
import { RATE_LIMIT_OPTIONS, type ResolvedRateLimitOptions } from './rate-limit.options.js';
import { RateLimitedError } from './rate-limit.errors.js';
import type {
  ConsumeManyOptions, ConsumeOptions, RateLimitCheck, RateLimitDecision, RateLimitPolicy, RateLimitResult, RateLimitViolation,
  ViolationQuery,
} from './rate-limit.types.js';
import { ViolationRecorder } from './violation-recorder.js';
import { VIOLATION_STORE, type ViolationStore } from './violation-store.interface.js';

const CAPABILITY = 'ratelimit';
/** `partition` value meaning "one partition per tenant" (the default of consumeMany and the guard). */
export const TENANT_PARTITION = 'tenant';

type PolicyCallOptions = RateLimitPolicy & { tenant?: string; partition?: string };

/**
 * Rate limits shared by every instance: one atomic Lua script (one round trip) per check,
 * on the Redis clock (or on the module's `clock` when the application configured one, as
 * tests do with a ManualClock). Five algorithms, multi-policy checks that consume nothing
 * unless all allow, a local deny cache, a per-instance fallback while Redis is down, and a
 * violation log with alerts.
 *
 * Returning and throwing: `consume` / `consumeMany` / `peek` return a decision (a denial is
 * `allowed: false`); `enforce` / `enforceMany` throw `RateLimitedError` on a denial, and
 * `RedisUnavailableError` when failing closed (`onRedisUnavailable: 'fail-closed'`). Bad input
 * throws `InvalidArgumentError` / `InvalidKeyError` from all of them, before any Redis call.
 *
 * @example
 * const r = await rateLimits.consume(`user:${userId}`, { limit: 10, windowMs: 1_000 });
 * if (!r.allowed) throw new HttpException('slow down', 429);
 *
 * @example
 * // 10/s per user and 1000/min per company; a denial by either consumes from neither
 * const d = await rateLimits.consumeMany([
 *   { key: `user:${userId}`, policy: { name: 'user', limit: 10, windowMs: 1_000 }, scope: 'user' },
 *   { key: 'company', policy: { name: 'company', limit: 1_000, windowMs: 60_000, algorithm: 'gcra' }, scope: 'tenant' },
 * ]);
 */
@Injectable()
export class RateLimitService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly recorder: ViolationRecorder;
  private readonly decider: RateLimitDecider;

  constructor(
    private readonly core: CoordinationCore,
    @Inject(RATE_LIMIT_OPTIONS) private readonly options: ResolvedRateLimitOptions,
    @Inject(RATE_LIMIT_STORE) store: RateLimitStore,
    @Inject(VIOLATION_STORE) violations: ViolationStore,
    @Optional() events?: EventBus,
  ) {
    this.recorder = new ViolationRecorder(core, violations, options.violations, events);
    this.decider = new RateLimitDecider(core, options, store, this.recorder);
  }

  onModuleInit(): void {
    this.recorder.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.recorder.stop();
  }

  /**
   * Takes `cost` (default 1) units from `key` under one policy. Resolves with the decision;
   * a denial is a result with `allowed: false`, not an error.
   *
   * @throws InvalidArgumentError naming the bad field (limit, windowMs, cost, ...), before any Redis call
   * @throws InvalidKeyError for an empty key or one with glob / hash-tag characters
   *
   * @example
   * const r = await rateLimits.consume(`user:${userId}`, { limit: 10, windowMs: 1_000 });
   * if (!r.allowed) res.setHeader('Retry-After', Math.ceil(r.retryAfterMs! / 1000));
   */
  consume(key: string, options: ConsumeOptions & { partition?: string }): Promise<RateLimitResult> {
    return this.consumeOne(key, options, undefined);
  }

  /**
   * Like `consume`, but throws `RateLimitedError` (HTTP 429 in CoordinationExceptionFilter) when
   * denied, and `RedisUnavailableError` (503, as RateLimitGuard answers) when Redis is unreachable
   * under `rateLimit.onRedisUnavailable: 'fail-closed'`.
   *
   * @example
   * await rateLimits.enforce(`user:${userId}`, { limit: 10, windowMs: 1_000 }); // throws when over the limit
   */
  async enforce(key: string, options: ConsumeOptions & { partition?: string }): Promise<RateLimitResult> {
    const result = await this.consumeOne(key, options, 'rateLimit.enforce');
    if (!result.allowed) throw new RateLimitedError(result);
    return result;
  }

  /** consume / enforce; `enforcing` names the throwing method (see CheckRequest.enforcing). */
  private async consumeOne(key: string, options: ConsumeOptions & { partition?: string }, enforcing: string | undefined): Promise<RateLimitResult> {
    const policy = normalizePolicy(options);
    const cost = normalizeCost(options.cost, [policy]);
    const tenant = this.core.tenants.resolve(options.tenant, 'rateLimit.consume');
    const counter = this.counterKey(tenant, options.partition, key, policy, 'key');
    const decision = await this.decider.decide({
      tenant, counters: [counter], policies: [policy], keys: [key], scopes: undefined, cost, consume: true, localNow: this.core.clock.now(),
      enforcing,
    });
    return decision.results[0];
  }

  /**
   * Checks several (key, policy) pairs atomically: all are consumed if every one allows,
   * none otherwise. All counters share one partition (hash tag), by default the tenant's.
   * Resolves with the decision; a denial is `allowed: false`, not an error.
   */
  consumeMany(checks: readonly RateLimitCheck[], options: ConsumeManyOptions = {}): Promise<RateLimitDecision> {
    return this.decideMany(checks, options, undefined);
  }

  /** consumeMany / enforceMany; `enforcing` names the throwing method (see CheckRequest.enforcing). */
  private async decideMany(checks: readonly RateLimitCheck[], options: ConsumeManyOptions, enforcing: string | undefined): Promise<RateLimitDecision> {
    if (!Array.isArray(checks) || checks.length === 0) throw new InvalidArgumentError('checks', 'must be a non-empty array', checks);
    const policies = checks.map((c, i) => normalizePolicy(c?.policy, `checks[${i}].policy.`));
    const cost = normalizeCost(options.cost, policies);
    const tenant = this.tenantOfMany(options);
    const partition = options.partition ?? TENANT_PARTITION;
    const counters = checks.map((c, i) => this.counterKey(tenant, partition, c.key, policies[i], `checks[${i}].key`));
    if (counters.length > 1 && new Set(counters).size !== counters.length) {
      throw new InvalidArgumentError('checks', 'the same key and policy appear twice', checks.map((c) => c.key));
    }
    return this.decider.decide({
      tenant, counters, policies, keys: checks.map((c) => c.key), scopes: checks.map((c) => c.scope), cost, consume: true,
      localNow: this.core.clock.now(), enforcing,
    });
  }

  /**
   * Like `consumeMany`, but throws `RateLimitedError` (HTTP 429 in CoordinationExceptionFilter)
   * when the decision denies: its `result` is the first denying policy's, its `decision` the
   * whole decision. Throws `RedisUnavailableError` (503, as RateLimitGuard answers) when Redis is
   * unreachable under `rateLimit.onRedisUnavailable: 'fail-closed'`. Resolves with the decision otherwise.
   *
   * @example
   * // 10/s per user and 1000/min per company, outside HTTP (a queue consumer, a WebSocket handler)
   * await rateLimits.enforceMany([
   *   { key: `user:${userId}`, policy: { name: 'user', limit: 10, windowMs: 1_000 } },
   *   { key: 'company', policy: { name: 'company', limit: 1_000, windowMs: 60_000 } },
   * ]);
   */
  async enforceMany(checks: readonly RateLimitCheck[], options: ConsumeManyOptions = {}): Promise<RateLimitDecision> {
    const decision = await this.decideMany(checks, options, 'rateLimit.enforceMany');
    if (!decision.allowed) throw new RateLimitedError(decision.violated!, decision);
    return decision;
  }

  /** The state of `key` under a policy without consuming: `allowed` says whether a call of cost 1 would pass. */
  async peek(key: string, options: PolicyCallOptions): Promise<RateLimitResult> {
    const policy = normalizePolicy(options);
    const tenant = this.core.tenants.resolve(options.tenant, 'rateLimit.peek');
    const counter = this.counterKey(tenant, options.partition, key, policy, 'key');
    const decision = await this.decider.decide({
      tenant, counters: [counter], policies: [policy], keys: [key], scopes: undefined, cost: 1, consume: false, localNow: this.core.clock.now(),
    });
    return decision.results[0];
  }

  /** Forgets the counter of `key` under a policy (and this instance's deny-cache entry for it). */
  async reset(key: string, options: PolicyCallOptions): Promise<void> {
    const policy = normalizePolicy(options);
    const tenant = this.core.tenants.resolve(options.tenant, 'rateLimit.reset');
    const counter = this.counterKey(tenant, options.partition, key, policy, 'key');
    await this.decider.reset(counter);
  }

  /** Recent violations of a tenant, newest first, filtered by time, scope and key. */
  async getViolations(query: ViolationQuery = {}): Promise<RateLimitViolation[]> {
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit <= 0) throw new InvalidArgumentError('limit', 'must be a positive integer', limit);
    const since = query.since === undefined ? -Infinity : +query.since;
    if (Number.isNaN(since)) throw new InvalidArgumentError('since', 'must be a Date or a number of ms', query.since);
    const tenant = this.core.tenants.resolve(query.tenant, 'rateLimit.getViolations');
    await this.recorder.flush();
    const all = await this.recorder.list(tenant, this.options.violations.maxPerTenant);
    const out: RateLimitViolation[] = [];
    for (const v of all) {
      if (v.at < since || (query.scope !== undefined && v.scope !== query.scope) || (query.key !== undefined && v.key !== query.key)) continue;
      out.push(v);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The tenant of a consumeMany: the shared namespace only on explicit request (see ConsumeManyOptions.sharedNamespace). */
  private tenantOfMany(options: ConsumeManyOptions): string {
    if (options.sharedNamespace === undefined || options.sharedNamespace === false) {
      return this.core.tenants.resolve(options.tenant, 'rateLimit.consumeMany');
    }
    if (options.sharedNamespace !== true) throw new InvalidArgumentError('sharedNamespace', 'must be a boolean', options.sharedNamespace);
    if (options.tenant !== undefined) throw new InvalidArgumentError('sharedNamespace', 'cannot be combined with tenant', options.tenant);
    return SHARED_TENANT;
  }

  /** The Redis key of one counter. Every key of one check shares the `{partition}` hash tag. */
  private counterKey(tenant: string, partition: string | undefined, key: string, policy: NormalizedPolicy, argument: string): string {
    assertSafeId(key, argument);
    if (partition === undefined) return this.core.keys.key(tenant, CAPABILITY, key, { suffix: policy.algorithm, parts: [policy.name] });
    assertSafeId(partition, 'partition');
    const tag = partition === TENANT_PARTITION ? `@${tenant}` : partition;
    return this.core.keys.key(tenant, CAPABILITY, tag, { suffix: policy.algorithm, parts: [policy.name, key] });
  }
}
