import { Inject, Injectable, Logger, Optional, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { CircuitOpenError, InvalidArgumentError, RedisUnavailableError } from '../errors/coordination.error.js';
import { EventBus } from '../events/event-bus.js';
import { SHARED_TENANT, assertSafeId } from '../keys/key-builder.js';
import { DenyCache } from './deny-cache.js';
import { MemoryRateLimitStore } from './memory-rate-limit.store.js';
import { normalizeCost, normalizePolicy, type NormalizedPolicy } from './rate-limit-policy.js';
import { RATE_LIMIT_OPTIONS, type ResolvedRateLimitOptions } from './rate-limit.options.js';
import { RateLimitedError } from './rate-limit.errors.js';
import { RATE_LIMIT_STORE, replyOffset, type RateLimitStore, type StoreReply } from './rate-limit.store.js';
import type {
  ConsumeManyOptions, ConsumeOptions, RateLimitCheck, RateLimitDecision, RateLimitPolicy, RateLimitResult, RateLimitSource,
  RateLimitViolation, ViolationQuery,
} from './rate-limit.types.js';
import { ViolationRecorder } from './violation-recorder.js';
import { VIOLATION_STORE, type ViolationStore } from './violation.tokens.js';

const CAPABILITY = 'ratelimit';
/** `partition` value meaning "one partition per tenant" (the default of consumeMany and the guard). */
export const TENANT_PARTITION = 'tenant';

/**
 * Library-internal (not exported from the package): `service[COUNT_IN_SHARED_NAMESPACE](checks, options)`
 * is `consumeMany` in the reserved shared namespace, which callers cannot name as a tenant.
 * RateLimitGuard uses it for `@TenantOptional()` requests without a tenant under `tenancy.required`.
 */
export const COUNT_IN_SHARED_NAMESPACE = Symbol('rateLimit.countInSharedNamespace');

type PolicyCallOptions = RateLimitPolicy & { tenant?: string; partition?: string };

/**
 * Rate limits shared by every instance: one atomic Lua script (one round trip) per check,
 * on the Redis clock (or on the module's `clock` when the application configured one, as
 * tests do with a ManualClock). Five algorithms, multi-policy checks that consume nothing
 * unless all allow, a local deny cache, a per-instance fallback while Redis is down, and a
 * violation log with alerts.
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
  private readonly logger = new Logger('Coordination:RateLimit');
  private readonly denyCache: DenyCache;
  private readonly recorder: ViolationRecorder;
  private fallback?: MemoryRateLimitStore;
  private readonly primarySource: RateLimitSource;
  private degraded = false;

  constructor(
    private readonly core: CoordinationCore,
    @Inject(RATE_LIMIT_OPTIONS) readonly options: ResolvedRateLimitOptions,
    @Inject(RATE_LIMIT_STORE) private readonly store: RateLimitStore,
    @Inject(VIOLATION_STORE) violations: ViolationStore,
    @Optional() events?: EventBus,
  ) {
    this.denyCache = new DenyCache(this.options.denyCacheMaxEntries);
    this.recorder = new ViolationRecorder(core, violations, this.options.violations, events);
    this.primarySource = core.connection ? 'redis' : 'memory';
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
   */
  async consume(key: string, options: ConsumeOptions & { partition?: string }): Promise<RateLimitResult> {
    const policy = normalizePolicy(options);
    const cost = normalizeCost(options.cost, [policy]);
    const tenant = this.core.tenants.resolve(options.tenant, 'rateLimit.consume');
    const counter = this.counterKey(tenant, options.partition, key, policy, 'key');
    const decision = await this.decide(tenant, [counter], [policy], [key], undefined, cost, true);
    return decision.results[0];
  }

  /** Like `consume`, but throws `RateLimitedError` (HTTP 429 in CoordinationExceptionFilter) when denied. */
  async enforce(key: string, options: ConsumeOptions & { partition?: string }): Promise<RateLimitResult> {
    const result = await this.consume(key, options);
    if (!result.allowed) throw new RateLimitedError(result);
    return result;
  }

  /**
   * Checks several (key, policy) pairs atomically: all are consumed if every one allows,
   * none otherwise. All counters share one partition (hash tag), by default the tenant's.
   */
  async consumeMany(checks: readonly RateLimitCheck[], options: ConsumeManyOptions = {}): Promise<RateLimitDecision> {
    return this.many(checks, options, () => this.core.tenants.resolve(options.tenant, 'rateLimit.consumeMany'));
  }

  /** See COUNT_IN_SHARED_NAMESPACE. */
  [COUNT_IN_SHARED_NAMESPACE](checks: readonly RateLimitCheck[], options: Omit<ConsumeManyOptions, 'tenant'> = {}): Promise<RateLimitDecision> {
    return this.many(checks, options, () => SHARED_TENANT);
  }

  private async many(checks: readonly RateLimitCheck[], options: ConsumeManyOptions, tenantOf: () => string): Promise<RateLimitDecision> {
    if (!Array.isArray(checks) || checks.length === 0) throw new InvalidArgumentError('checks', 'must be a non-empty array', checks);
    const policies = checks.map((c, i) => normalizePolicy(c?.policy, `checks[${i}].policy.`));
    const cost = normalizeCost(options.cost, policies);
    const tenant = tenantOf();
    const partition = options.partition ?? TENANT_PARTITION;
    const counters = checks.map((c, i) => this.counterKey(tenant, partition, c.key, policies[i], `checks[${i}].key`));
    if (counters.length > 1 && new Set(counters).size !== counters.length) {
      throw new InvalidArgumentError('checks', 'the same key and policy appear twice', checks.map((c) => c.key));
    }
    return this.decide(tenant, counters, policies, checks.map((c) => c.key), checks.map((c) => c.scope), cost, true);
  }

  /** The state of `key` under a policy without consuming: `allowed` says whether a call of cost 1 would pass. */
  async peek(key: string, options: PolicyCallOptions): Promise<RateLimitResult> {
    const policy = normalizePolicy(options);
    const tenant = this.core.tenants.resolve(options.tenant, 'rateLimit.peek');
    const counter = this.counterKey(tenant, options.partition, key, policy, 'key');
    return (await this.decide(tenant, [counter], [policy], [key], undefined, 1, false)).results[0];
  }

  /** Forgets the counter of `key` under a policy (and this instance's deny-cache entry for it). */
  async reset(key: string, options: PolicyCallOptions): Promise<void> {
    const policy = normalizePolicy(options);
    const tenant = this.core.tenants.resolve(options.tenant, 'rateLimit.reset');
    const counter = this.counterKey(tenant, options.partition, key, policy, 'key');
    this.denyCache.forget(counter);
    this.fallback?.reset([counter]);
    await this.store.reset([counter]);
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

  /** The Redis key of one counter. Every key of one check shares the `{partition}` hash tag. */
  private counterKey(tenant: string, partition: string | undefined, key: string, policy: NormalizedPolicy, argument: string): string {
    assertSafeId(key, argument);
    if (partition === undefined) return this.core.keys.key(tenant, CAPABILITY, key, { suffix: policy.algorithm, parts: [policy.name] });
    assertSafeId(partition, 'partition');
    const tag = partition === TENANT_PARTITION ? `@${tenant}` : partition;
    return this.core.keys.key(tenant, CAPABILITY, tag, { suffix: policy.algorithm, parts: [policy.name, key] });
  }

  private async decide(
    tenant: string, counters: string[], policies: NormalizedPolicy[], keys: readonly string[],
    scopes: ReadonlyArray<string | undefined> | undefined, cost: number, consume: boolean,
  ): Promise<RateLimitDecision> {
    const localNow = this.core.clock.now();
    if (consume) {
      for (let i = 0; i < counters.length; i++) {
        const blocked = this.denyCache.lookup(counters[i], policies[i], cost, localNow);
        if (!blocked) continue;
        const p = policies[i];
        const result: RateLimitResult = {
          allowed: false, key: keys[i], policy: p.name, limit: p.limit, remaining: blocked.remaining,
          resetAt: new Date(blocked.resetUntilMs), resetAfterMs: Math.max(0, Math.ceil(blocked.resetUntilMs - localNow)),
          retryAfterMs: Math.max(1, Math.ceil(blocked.untilMs - localNow)), source: 'deny-cache',
        };
        this.denied(tenant, result, p, cost, scopes?.[i], localNow);
        return { allowed: false, results: [result], violated: result, source: 'deny-cache' };
      }
    }
    let reply: StoreReply;
    let source = this.primarySource;
    try {
      reply = await this.store.check(counters, policies, cost, consume);
      if (this.degraded) this.recovered();
    } catch (error) {
      if (!(error instanceof RedisUnavailableError || error instanceof CircuitOpenError)) throw error;
      this.onUnavailable(error);
      if (this.options.onRedisUnavailable === 'fail-closed') return this.failClosed(error, policies, keys, localNow);
      this.fallback ??= new MemoryRateLimitStore(this.core.clock);
      reply = await this.fallback.check(counters, policies, cost, consume);
      source = 'local';
    }
    return this.toDecision(tenant, reply, counters, policies, keys, scopes, cost, consume, source, localNow);
  }

  private toDecision(
    tenant: string, reply: StoreReply, counters: string[], policies: NormalizedPolicy[], keys: readonly string[],
    scopes: ReadonlyArray<string | undefined> | undefined, cost: number, consume: boolean, source: RateLimitSource, localNow: number,
  ): RateLimitDecision {
    const nowMs = reply[0] / 1000;
    const committed = consume && reply[1] === 1;
    const results: RateLimitResult[] = [];
    let violated: RateLimitResult | undefined;
    for (let i = 0; i < policies.length; i++) {
      const o = replyOffset(i);
      const p = policies[i];
      const allowed = reply[o] === 1;
      const resetAfterMs = reply[o + 2];
      const result: RateLimitResult = {
        allowed,
        key: keys[i],
        policy: p.name,
        limit: p.limit,
        // Nothing was taken when another policy denied (or on peek): report what is left.
        remaining: allowed && !committed ? reply[o + 1] + cost : reply[o + 1],
        resetAt: new Date(nowMs + resetAfterMs),
        resetAfterMs,
        source,
      };
      if (!allowed) {
        result.retryAfterMs = Math.max(1, reply[o + 3]);
        if (consume) {
          violated ??= result;
          if (source !== 'local') this.denyCache.block(counters[i], p, cost, localNow + result.retryAfterMs, reply[o + 1], localNow + resetAfterMs);
        }
      }
      results.push(result);
    }
    if (violated) this.denied(tenant, violated, policies[results.indexOf(violated)], cost, scopes?.[results.indexOf(violated)], localNow);
    else if (consume) this.core.metrics.increment('ratelimit_allowed_total', ALLOWED_LABELS[source]);
    return { allowed: reply[1] === 1, results, violated, source };
  }

  private denied(tenant: string, result: RateLimitResult, policy: NormalizedPolicy, cost: number, scope: string | undefined, at: number): void {
    this.core.metrics.increment('ratelimit_denied_total', { policy: policy.name, source: result.source });
    this.recorder.record({
      at, tenant, key: result.key, scope, policy: policy.name, algorithm: policy.algorithm, limit: policy.limit,
      windowMs: policy.windowMs, cost, retryAfterMs: result.retryAfterMs, source: result.source, instanceId: this.core.instanceId,
    });
  }

  private failClosed(error: Error, policies: NormalizedPolicy[], keys: readonly string[], localNow: number): RateLimitDecision {
    const retryAfterMs = error instanceof CircuitOpenError ? Math.max(1, Math.ceil(error.retryAtMs - localNow)) : 1_000;
    const results = policies.map((p, i): RateLimitResult => ({
      allowed: false, key: keys[i], policy: p.name, limit: p.limit, remaining: 0, resetAt: new Date(localNow + retryAfterMs),
      resetAfterMs: retryAfterMs, retryAfterMs, source: 'fail-closed',
    }));
    this.core.metrics.increment('ratelimit_denied_total', { policy: results[0].policy, source: 'fail-closed' });
    return { allowed: false, results, violated: results[0], source: 'fail-closed' };
  }

  private onUnavailable(error: Error): void {
    this.core.metrics.increment('ratelimit_redis_unavailable_total', { policy: this.options.onRedisUnavailable });
    if (this.degraded) return;
    this.degraded = true;
    this.logger.warn(`Redis unavailable (${error.message}): rate limits ${this.options.onRedisUnavailable === 'local' ? 'fall back to this instance\'s local limiter' : 'fail closed'} until it answers again`);
  }

  private recovered(): void {
    this.degraded = false;
    this.fallback = undefined;
    this.logger.log('Redis answers again: rate limits are shared again');
  }
}

const ALLOWED_LABELS: Readonly<Record<RateLimitSource, { source: RateLimitSource }>> = {
  redis: { source: 'redis' }, memory: { source: 'memory' }, local: { source: 'local' },
  'deny-cache': { source: 'deny-cache' }, 'fail-closed': { source: 'fail-closed' },
};
