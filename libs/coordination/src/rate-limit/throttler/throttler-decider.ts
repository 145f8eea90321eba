import type { CoordinationCore } from '../../core/coordination-core.js';
import { CircuitOpenError, RedisUnavailableError } from '../../errors/coordination.error.js';
import { CoordinationHttpException } from '../../http/coordination-http.exception.js';
import { CheckDeadlines, TIMED_OUT } from '../check-deadlines.js';
import { DegradedMode } from '../degraded-mode.js';
import { LocalFallback, type FleetView } from '../local-fallback.js';
import type { ResolvedRateLimitOptions } from '../rate-limit.options.js';
import { MemoryThrottlerStore } from './memory-throttler.store.js';
import type { ThrottlerStore } from './throttler-store.interface.js';
import type { CoordinationThrottlerRecord } from './throttler.types.js';

/** The operation errors and logs name. */
export const THROTTLER_OPERATION = 'throttler.increment';

/**
 * Decides a validated hit on Redis for CoordinationThrottlerStorage (library-internal), under
 * the rate limits' outage policy and with their machinery: at most `rateLimit.timeoutMs` of
 * waiting (CheckDeadlines), then `rateLimit.onRedisUnavailable` answers: this instance's own
 * throttler store with its fleet share of the limit (`local`), or a 503 (`fail-closed`). Once a
 * hit met an unreachable or silent Redis, the next hits are answered so at once while one probe
 * per `timeoutMs` goes to Redis (DegradedMode); the warnings and the
 * `ratelimit_redis_unavailable_total` count are LocalFallback's, as for the rate limits.
 *
 * @example
 * const decider = new ThrottlerDecider(core, options, new RedisThrottlerStore(core.connection!), fleet);
 * const record = await decider.decide(counterKey, 60_000, 10, 60_000);
 */
export class ThrottlerDecider {
  private readonly deadlines: CheckDeadlines;
  private readonly mode: DegradedMode;
  /** The outage warnings and counts (its own limiter is the rate limits'; ours is `local`). */
  private readonly outages: LocalFallback;
  /** The hits answered while Redis is unreachable; kept as long as what it counts lives. */
  private local?: MemoryThrottlerStore;

  constructor(
    private readonly core: CoordinationCore,
    private readonly options: ResolvedRateLimitOptions,
    private readonly store: ThrottlerStore,
    private readonly fleet: FleetView | undefined,
  ) {
    this.deadlines = new CheckDeadlines(options.timeoutMs);
    // A probe may wait timeoutMs: probing once per timeoutMs keeps at most one probe in flight.
    this.mode = new DegradedMode(options.timeoutMs);
    this.outages = new LocalFallback(core, options, fleet);
  }

  async decide(counter: string, ttl: number, limit: number, block: number): Promise<CoordinationThrottlerRecord> {
    if (this.fleet !== undefined && !this.fleet.joined) this.fleet.join();
    const probe = this.mode.degraded;
    if (probe && this.mode.route() === 'local') return this.unavailable(counter, ttl, limit, block, this.mode.lastError!);
    let record: CoordinationThrottlerRecord | typeof TIMED_OUT;
    try {
      record = await this.deadlines.within(this.store.increment(counter, ttl, limit, block));
    } catch (error) {
      // CircuitOpenError is a RedisUnavailableError too.
      if (!(error instanceof RedisUnavailableError)) {
        this.mode.abandoned(probe);
        throw error;
      }
      return this.failed(counter, ttl, limit, block, error, probe);
    }
    if (record === TIMED_OUT) return this.failed(counter, ttl, limit, block, this.timedOut(), probe);
    if (this.mode.degraded && this.mode.answered(probe)) this.outages.recovered();
    return record;
  }

  /** Answers the hits still waiting for Redis at once (from the policy) and stops the timeout timer. */
  close(): void {
    this.deadlines.close();
  }

  private failed(
    counter: string, ttl: number, limit: number, block: number, error: RedisUnavailableError, probe: boolean,
  ): Promise<CoordinationThrottlerRecord> {
    if (this.mode.failed(error, probe)) this.outages.outage(error);
    return this.unavailable(counter, ttl, limit, block, error);
  }

  /** Redis is unreachable or silent: this instance's share of the limit, or a 503. */
  private unavailable(counter: string, ttl: number, limit: number, block: number, error: RedisUnavailableError): Promise<CoordinationThrottlerRecord> {
    this.outages.unavailable();
    if (this.options.onRedisUnavailable === 'fail-closed') return Promise.reject(this.failClosed(error));
    this.local ??= new MemoryThrottlerStore(this.core.clock, 'local');
    const instances = this.fleet?.liveInstances ?? 1;
    return this.local.increment(counter, ttl, instances <= 1 ? limit : Math.ceil(limit / instances), block);
  }

  private timedOut(): RedisUnavailableError {
    this.core.metrics.increment('ratelimit_timeouts_total');
    const cause = new Error(`Redis did not answer a throttler hit within rateLimit.timeoutMs (${this.options.timeoutMs} ms)`);
    return new RedisUnavailableError(THROTTLER_OPERATION, cause);
  }

  /**
   * Failing closed: a 503 (rendered by Nest without any filter, as `application/problem+json`
   * with `Retry-After` by CoordinationExceptionFilter), not the guard's 429: the client is not
   * over its limit.
   */
  private failClosed(error: RedisUnavailableError): CoordinationHttpException {
    const retryAfterS = error instanceof CircuitOpenError ? Math.max(1, Math.ceil((error.retryAtMs - this.core.clock.now()) / 1000)) : 1;
    return new CoordinationHttpException(new RedisUnavailableError(THROTTLER_OPERATION, error), 503, Object.freeze({ 'Retry-After': String(retryAfterS) }));
  }
}
