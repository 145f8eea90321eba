import type { CoordinationCore } from '../core/coordination-core.js';
import { CircuitOpenError, RedisUnavailableError } from '../errors/coordination.error.js';
import type { CounterHandle } from '../metrics/metrics-registry.js';
import { MAX_ATTRIBUTE_VALUES, OTHER_VALUE } from '../telemetry/tenant-attributes.js';
import { CheckDeadlines, TIMED_OUT } from './check-deadlines.js';
import { DegradedMode } from './degraded-mode.js';
import { DenyCache } from './deny-cache.js';
import { LocalFallback, type FleetView } from './local-fallback.js';
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
  /**
   * Set when the check mixes `global` counters (one hash tag across tenants) with others (the
   * tenant's or the partition's tag): which checks are global. Keys of two tags can share no
   * script on a cluster, so the others are decided first and the global ones only if they allow.
   */
  readonly global?: readonly boolean[];
  /** Set on each of the two parts of a check decided in two: an allowed part is not yet an allowed check. */
  readonly part?: true;
}

/**
 * Decides validated checks for RateLimitService (library-internal): answers keys known to be
 * blocked from the deny cache, asks the store (waiting at most `rateLimit.timeoutMs` for Redis),
 * falls back to the fleet-sized local limiter (or fails closed) while Redis is unreachable or
 * silent, and turns the store's answer into the public decision, counting and recording denials.
 * Once a check met an unreachable or silent Redis, later checks are answered by the fallback at
 * once while one probe per `timeoutMs` goes to Redis (see DegradedMode).
 */
export class RateLimitDecider {
  private readonly denyCache: DenyCache;
  private readonly primarySource: RateLimitSource;
  private readonly fallback: LocalFallback;
  /** Only on Redis: the memory store answers in the same tick. */
  private readonly deadlines?: CheckDeadlines;
  private readonly mode: DegradedMode;
  /**
   * `ratelimit_allowed_total` and `ratelimit_denied_total` series per policy name and source,
   * bound at their first decision: a decision builds no label object and looks up no series id.
   * At most MAX_ATTRIBUTE_VALUES policy names each (later ones count as `_other`): names built
   * from request data or per-user limits must not grow a series per user.
   */
  private readonly allowedSeries = new Map<string, SeriesBySource>();
  private readonly deniedSeries = new Map<string, SeriesBySource>();
  /** `ratelimit_checks_total` series per outcome and source, bound at their first check. */
  private readonly checkSeries: Record<'allowed' | 'denied', Partial<Record<RateLimitSource, CounterHandle>>> = { allowed: {}, denied: {} };

  constructor(
    private readonly core: CoordinationCore,
    private readonly options: ResolvedRateLimitOptions,
    private readonly store: RateLimitStore,
    private readonly recorder: ViolationRecorder,
    private readonly fleet?: FleetView,
  ) {
    this.denyCache = new DenyCache(options.denyCacheMaxEntries);
    this.primarySource = core.connection ? 'redis' : 'memory';
    this.fallback = new LocalFallback(core, options, fleet);
    if (core.connection) this.deadlines = new CheckDeadlines(options.timeoutMs);
    // A probe may wait timeoutMs: probing once per timeoutMs keeps at most one probe in flight.
    this.mode = new DegradedMode(options.timeoutMs);
  }

  /** The decision on a validated request: deny cache first (consumes only), then the store or its fallback. */
  decide(request: CheckRequest): Promise<RateLimitDecision> {
    if (this.fleet !== undefined && !this.fleet.joined) this.fleet.join();
    if (request.consume) {
      const cached = this.fromDenyCache(request);
      if (cached) return Promise.resolve(cached);
    }
    return request.global === undefined ? this.decideGroup(request) : this.decideInTwo(request, request.global);
  }

  /** Answers the pending checks at once (from the fallback) and stops the timeout timer. */
  close(): void {
    this.deadlines?.close();
  }

  /** A denial without a round trip when one of the counters is known to be blocked for this cost. */
  private fromDenyCache(request: CheckRequest): RateLimitDecision | undefined {
    const { counters, policies, cost, localNow } = request;
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
    return undefined;
  }

  /**
   * One store call (every counter of `request` in one hash slot). `deadline` (a
   * `performance.now()` time): the second call of a check decided in two waits only until then.
   */
  private async decideGroup(request: CheckRequest, deadline?: number): Promise<RateLimitDecision> {
    const { counters, policies, cost, consume } = request;
    const probe = this.mode.degraded;
    if (probe && this.mode.route() === 'local') return this.unavailable(request, this.mode.lastError!);
    let stored: StoreCheckResult | typeof TIMED_OUT;
    try {
      if (deadline !== undefined && deadline <= performance.now()) stored = TIMED_OUT;
      else {
        const pending = this.store.check(counters, policies, cost, consume);
        stored = this.deadlines === undefined ? await pending : await this.deadlines.within(pending, deadline);
      }
    } catch (error) {
      // CircuitOpenError is a RedisUnavailableError too.
      if (!(error instanceof RedisUnavailableError)) {
        this.mode.abandoned(probe);
        throw error;
      }
      return this.failed(request, error, probe);
    }
    if (stored === TIMED_OUT) return this.failed(request, this.timedOut(), probe);
    if (this.mode.degraded) {
      if (this.mode.answered(probe)) this.fallback.recovered();
    } else if (this.fallback.keeping) this.fallback.settle();
    return this.toDecision(request, stored, this.primarySource);
  }

  /**
   * A check that mixes global counters with others: the others first (atomically, all or
   * none), then the global ones, only if the others allowed. A request the global counters deny
   * has then been charged to the others: the price of two hash slots. The deny cache keeps it
   * rare: once a global counter denies, this instance answers from the cache until its retry
   * time, before asking for the others. Denied by the others, the decision carries only their
   * results (the global counters were not asked).
   */
  private async decideInTwo(request: CheckRequest, global: readonly boolean[]): Promise<RateLimitDecision> {
    // One timeoutMs for the whole check: the second call gets what the first left.
    const deadline = this.deadlines === undefined ? undefined : performance.now() + this.options.timeoutMs;
    const first = await this.decideGroup(partOf(request, global, false), deadline);
    if (!first.allowed) return first;
    const second = await this.decideGroup(partOf(request, global, true), deadline);
    const results: RateLimitResult[] = [];
    for (let i = 0, a = 0, b = 0; i < global.length; i++) results.push(global[i] ? second.results[b++] : first.results[a++]);
    const source = second.source === this.primarySource ? first.source : second.source;
    // Allowed only now: a denial of the second part was counted as the check's (the first
    // part's policies, charged all the same, count no allowed decision then).
    if (second.allowed && request.consume) {
      for (let i = 0; i < global.length; i++) this.allowed(request.policies[i].name, global[i] ? second.source : first.source);
      this.checked('allowed', source);
    }
    return { allowed: second.allowed, results, violated: second.violated, source };
  }

  /** A check met an unreachable or silent Redis: the decider is degraded (see DegradedMode), the policy answers. */
  private failed(request: CheckRequest, error: RedisUnavailableError, probe: boolean): Promise<RateLimitDecision> {
    if (this.mode.failed(error, probe)) this.fallback.outage(error);
    return this.unavailable(request, error);
  }

  /** Redis is unreachable or did not answer in time: the local limiter answers, or the check fails closed. */
  private async unavailable(request: CheckRequest, error: RedisUnavailableError): Promise<RateLimitDecision> {
    this.fallback.unavailable();
    if (this.options.onRedisUnavailable === 'fail-closed') return this.failClosed(error, request);
    const stored = await this.fallback.check(request.counters, request.policies, request.cost, request.consume);
    return this.toDecision(request, stored, 'local');
  }

  private timedOut(): RedisUnavailableError {
    this.core.metrics.increment('ratelimit_timeouts_total');
    const cause = new Error(`Redis did not answer a rate-limit check within rateLimit.timeoutMs (${this.options.timeoutMs} ms)`);
    return new RedisUnavailableError('rateLimit.consume', cause);
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
    // A part of a check decided in two: decideInTwo counts the check once both parts allowed.
    else if (committed && request.part === undefined) {
      for (let i = 0; i < policies.length; i++) this.allowed(policies[i].name, source);
      this.checked('allowed', source);
    }
    return { allowed: stored.allowed, results, violated, source };
  }

  /** Counts an allowed decision of policy `name` (each policy of an allowed check). */
  private allowed(name: string, source: RateLimitSource): void {
    const series = seriesOf(this.allowedSeries, name);
    (series.bySource[source] ??= this.core.metrics.counterOf('ratelimit_allowed_total', { policy: series.policy, source })).add();
  }

  /** Counts one consuming check, once whatever its number of policies. */
  private checked(outcome: 'allowed' | 'denied', source: RateLimitSource): void {
    (this.checkSeries[outcome][source] ??= this.core.metrics.counterOf('ratelimit_checks_total', { outcome, source })).add();
  }

  /** Counts a denial by policy `name` (the violated one). */
  private deniedBy(name: string, source: RateLimitSource): void {
    const series = seriesOf(this.deniedSeries, name);
    (series.bySource[source] ??= this.core.metrics.counterOf('ratelimit_denied_total', { policy: series.policy, source })).add();
  }

  /** Counts and records the denial of `request`'s policy `i` (the check's: a denied part ends it). */
  private denied(request: CheckRequest, i: number, result: RateLimitResult): void {
    const policy = request.policies[i];
    this.deniedBy(policy.name, result.source);
    this.checked('denied', result.source);
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
    if (request.consume) {
      this.deniedBy(results[0].policy, 'fail-closed');
      this.checked('denied', 'fail-closed');
    }
    if (request.enforcing !== undefined) throw new RedisUnavailableError(request.enforcing, error);
    return { allowed: false, results, violated: results[0], source: 'fail-closed' };
  }

  /** Forgets a counter: this instance's deny-cache entry, the fallback limiter's and the store's. */
  async reset(counter: string): Promise<void> {
    this.denyCache.forget(counter);
    await this.fallback.reset([counter]);
    await this.store.reset([counter]);
  }
}

/** The counter series of one policy label value (`policy`: the policy's name, or `_other`), per source. */
interface SeriesBySource {
  readonly policy: string;
  readonly bySource: Partial<Record<RateLimitSource, CounterHandle>>;
}

/**
 * The series of policy `name` in `series`, added empty at its first decision; those of `_other`
 * once `series` holds MAX_ATTRIBUTE_VALUES names.
 */
function seriesOf(series: Map<string, SeriesBySource>, name: string): SeriesBySource {
  let bySource = series.get(name);
  if (bySource !== undefined) return bySource;
  const policy = series.size < MAX_ATTRIBUTE_VALUES ? name : OTHER_VALUE;
  bySource = series.get(policy);
  if (bySource === undefined) series.set(policy, (bySource = { policy, bySource: {} }));
  return bySource;
}

/** The checks of `request` that are (`wanted` true) or are not global, as a request of their own. */
function partOf(request: CheckRequest, global: readonly boolean[], wanted: boolean): CheckRequest {
  const counters: string[] = [];
  const policies: NormalizedPolicy[] = [];
  const keys: string[] = [];
  const scopes: Array<string | undefined> = [];
  for (let i = 0; i < global.length; i++) {
    if (global[i] !== wanted) continue;
    counters.push(request.counters[i]);
    policies.push(request.policies[i]);
    keys.push(request.keys[i]);
    scopes.push(request.scopes?.[i]);
  }
  return { ...request, counters, policies, keys, scopes: request.scopes && scopes, global: undefined, part: true };
}
