import { Logger } from '@nestjs/common';
import type { CoordinationCore } from '../core/coordination-core.js';
import { CircuitOpenError, RedisUnavailableError } from '../errors/coordination.error.js';
import { DenyCache } from './deny-cache.js';
import { MemoryRateLimitStore } from './memory-rate-limit.store.js';
import type { NormalizedPolicy } from './rate-limit-policy.js';
import type { RateLimitStore, StoreCheckResult } from './rate-limit-store.interface.js';
import type { ResolvedRateLimitOptions } from './rate-limit.options.js';
import type { RateLimitDecision, RateLimitResult, RateLimitSource } from './rate-limit.types.js';
import type { ViolationRecorder } from './violation-recorder.js';

/** One call on its way from a public method to the store and back; built once per call. */
export interface CheckRequest {
  readonly tenant: string;
  /** Counter key of each policy: what the store is asked about. */
  readonly counters: readonly string[];
  readonly policies: readonly NormalizedPolicy[];
  /** The caller's key of each policy, as results and violations report it. */
  readonly keys: readonly string[];
  /** Violation label of each policy (consumeMany), if any. */
  readonly scopes: ReadonlyArray<string | undefined> | undefined;
  readonly cost: number;
  /** false for peek. */
  readonly consume: boolean;
  /** This instance's clock when the call started: deny-cache times and violation timestamps. */
  readonly localNow: number;
  /**
   * The throwing method making the call (`rateLimit.enforce`), if any: failing closed then
   * throws RedisUnavailableError for it, since a denial there would read as "over the limit".
   */
  readonly enforcing?: string;
}

/**
 * Decides validated checks for RateLimitService (library-internal): answers keys known to be
 * blocked from the deny cache, asks the store, falls back to a per-instance limiter (or fails
 * closed) while Redis is unreachable, and turns the store's answer into the public decision,
 * counting and recording denials.
 */
export class RateLimitDecider {
  private readonly logger = new Logger('Coordination:RateLimit');
  private readonly denyCache: DenyCache;
  private readonly primarySource: RateLimitSource;
  private fallback?: MemoryRateLimitStore;
  private degraded = false;

  constructor(
    private readonly core: CoordinationCore,
    private readonly options: ResolvedRateLimitOptions,
    private readonly store: RateLimitStore,
    private readonly recorder: ViolationRecorder,
  ) {
    this.denyCache = new DenyCache(options.denyCacheMaxEntries);
    this.primarySource = core.connection ? 'redis' : 'memory';
  }

  /** The decision on a validated request: deny cache first (consumes only), then the store or its fallback. */
  async decide(request: CheckRequest): Promise<RateLimitDecision> {
    const { counters, policies, cost, consume, localNow } = request;
    if (consume) {
      for (let i = 0; i < counters.length; i++) {
        const blocked = this.denyCache.lookup(counters[i], policies[i], cost, localNow);
        if (!blocked) continue;
        const p = policies[i];
        const result: RateLimitResult = {
          allowed: false, key: request.keys[i], policy: p.name, limit: p.limit, remaining: blocked.remaining,
          resetAt: new Date(blocked.resetUntilMs), resetAfterMs: Math.max(0, Math.ceil(blocked.resetUntilMs - localNow)),
          retryAfterMs: Math.max(1, Math.ceil(blocked.untilMs - localNow)), source: 'deny-cache',
        };
        this.denied(request, i, result);
        return { allowed: false, results: [result], violated: result, source: 'deny-cache' };
      }
    }
    let stored: StoreCheckResult;
    let source = this.primarySource;
    try {
      stored = await this.store.check(counters, policies, cost, consume);
      if (this.degraded) this.recovered();
    } catch (error) {
      if (!(error instanceof RedisUnavailableError || error instanceof CircuitOpenError)) throw error;
      this.onUnavailable(error);
      if (this.options.onRedisUnavailable === 'fail-closed') return this.failClosed(error, request);
      this.fallback ??= new MemoryRateLimitStore(this.core.clock);
      stored = await this.fallback.check(counters, policies, cost, consume);
      source = 'local';
    }
    return this.toDecision(request, stored, source);
  }

  /** The public decision from the store's answer: results in the caller's terms, deny-cache entries, metrics, violations. */
  private toDecision(request: CheckRequest, stored: StoreCheckResult, source: RateLimitSource): RateLimitDecision {
    const { policies, cost, consume, localNow } = request;
    const nowMs = stored.nowUs / 1000;
    const committed = consume && stored.allowed;
    const results: RateLimitResult[] = [];
    let violatedAt = -1;
    for (let i = 0; i < policies.length; i++) {
      const counter = stored.results[i];
      const p = policies[i];
      const result: RateLimitResult = {
        allowed: counter.allowed,
        key: request.keys[i],
        policy: p.name,
        limit: p.limit,
        // Nothing was taken when another policy denied (or on peek): report what is left.
        remaining: counter.allowed && !committed ? counter.remaining + cost : counter.remaining,
        resetAt: new Date(nowMs + counter.resetMs),
        resetAfterMs: counter.resetMs,
        source,
      };
      if (!counter.allowed) {
        result.retryAfterMs = Math.max(1, counter.retryMs);
        if (consume) {
          if (violatedAt < 0) violatedAt = i;
          if (source !== 'local') {
            this.denyCache.block(request.counters[i], p, cost, localNow + result.retryAfterMs, counter.remaining, localNow + counter.resetMs);
          }
        }
      }
      results.push(result);
    }
    const violated = violatedAt < 0 ? undefined : results[violatedAt];
    if (violated) this.denied(request, violatedAt, violated);
    else if (consume) this.core.metrics.increment('ratelimit_allowed_total', ALLOWED_LABELS[source]);
    return { allowed: stored.allowed, results, violated, source };
  }

  /** Counts and records the denial of `request`'s policy `i`. */
  private denied(request: CheckRequest, i: number, result: RateLimitResult): void {
    const policy = request.policies[i];
    this.core.metrics.increment('ratelimit_denied_total', { policy: policy.name, source: result.source });
    this.recorder.record({
      at: request.localNow, tenant: request.tenant, key: result.key, scope: request.scopes?.[i], policy: policy.name,
      algorithm: policy.algorithm, limit: policy.limit, windowMs: policy.windowMs, cost: request.cost,
      retryAfterMs: result.retryAfterMs, source: result.source, instanceId: this.core.instanceId,
    });
  }

  private failClosed(error: Error, request: CheckRequest): RateLimitDecision {
    const { localNow } = request;
    const retryAfterMs = error instanceof CircuitOpenError ? Math.max(1, Math.ceil(error.retryAtMs - localNow)) : 1_000;
    const results = request.policies.map((p, i): RateLimitResult => ({
      allowed: false, key: request.keys[i], policy: p.name, limit: p.limit, remaining: 0, resetAt: new Date(localNow + retryAfterMs),
      resetAfterMs: retryAfterMs, retryAfterMs, source: 'fail-closed',
    }));
    this.core.metrics.increment('ratelimit_denied_total', { policy: results[0].policy, source: 'fail-closed' });
    if (request.enforcing !== undefined) throw new RedisUnavailableError(request.enforcing, error);
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

  /** Forgets a counter: this instance's deny-cache entry, the fallback limiter's and the store's. */
  async reset(counter: string): Promise<void> {
    this.denyCache.forget(counter);
    await this.fallback?.reset([counter]);
    await this.store.reset([counter]);
  }
}

const ALLOWED_LABELS: Readonly<Record<RateLimitSource, { source: RateLimitSource }>> = {
  redis: { source: 'redis' }, memory: { source: 'memory' }, local: { source: 'local' },
  'deny-cache': { source: 'deny-cache' }, 'fail-closed': { source: 'fail-closed' },
};
