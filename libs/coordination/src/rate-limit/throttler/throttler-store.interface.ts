import type { CoordinationThrottlerRecord } from './throttler.types.js';

/**
 * Atomic primitive of the @nestjs/throttler storage: `RedisThrottlerStore` (one Lua script per
 * hit) and `MemoryThrottlerStore` decide alike (test/throttler/throttler-store.contract.ts), as
 * @nestjs/throttler 6's in-memory `ThrottlerStorageService` does for one key and throttler.
 *
 * @example
 * const hit = await store.increment(counterKey, 60_000, 10, 60_000);
 * if (hit.isBlocked) throw new ThrottlerException();
 */
export interface ThrottlerStore {
  /**
   * Counts a hit on `key` (unless blocked): each hit lives `ttlMs`; with `blockDurationMs > 0`
   * the hit that goes past `limit` starts a block of that long, otherwise hits at the limit are
   * refused. All times are whole ms.
   */
  increment(key: string, ttlMs: number, limit: number, blockDurationMs: number): Promise<CoordinationThrottlerRecord>;
}
