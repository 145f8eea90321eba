/**
 * What `CoordinationThrottlerStorage.increment` resolves with: @nestjs/throttler's
 * `ThrottlerStorageRecord` (its guard reads the first four fields) and who answered. Times are
 * whole seconds, rounded up, as the guard writes them into `X-RateLimit-Reset` and `Retry-After`.
 *
 * @example
 * const record = await storage.increment(key, 60_000, 10, 60_000, 'default');
 * if (record.source === 'local') logger.warn('throttled by this instance alone: Redis is unreachable');
 */
export interface CoordinationThrottlerRecord {
  /** Hits alive under this key and throttler (with a block duration, the one that started a block included). */
  readonly totalHits: number;
  /** Seconds until the current window ends (`X-RateLimit-Reset`). */
  readonly timeToExpire: number;
  /** Whether this hit is refused. */
  readonly isBlocked: boolean;
  /** Seconds until a refused client may try again (`Retry-After`); 0 when not blocked. */
  readonly timeToBlockExpire: number;
  /**
   * `redis` (the shared counters), `memory` (the memory driver), or `local` (this instance's
   * fallback limiter, its share of the limit, while Redis is unreachable: `rateLimit.onRedisUnavailable: 'local'`).
   */
  readonly source: 'redis' | 'memory' | 'local';
}
