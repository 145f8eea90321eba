import type { NormalizedPolicy } from './rate-limit-policy.js';

/**
 * Raw answer of a store check, laid out as the Lua script returns it so that the Redis
 * store needs no copy: `[nowUs, allAllowed, then per policy: allowed, remaining, resetMs, retryMs]`.
 * `nowUs` is the store's clock (Redis TIME, or the injected clock for memory) in microseconds.
 */
export type StoreReply = readonly number[];

/** Offset of policy `i`'s four numbers in a StoreReply. */
export const replyOffset = (i: number): number => 2 + i * 4;

/**
 * Atomic primitives of the rate-limit capability; `RedisRateLimitStore` (Lua) and
 * `MemoryRateLimitStore` have identical semantics.
 */
export interface RateLimitStore {
  /**
   * Checks every policy (`keys[i]` is the counter of `policies[i]`) and, when `consume` is
   * true and all allow, takes `cost` from each; otherwise changes nothing.
   */
  check(keys: readonly string[], policies: readonly NormalizedPolicy[], cost: number, consume: boolean): Promise<StoreReply>;
  /** Deletes the counters. */
  reset(keys: readonly string[]): Promise<void>;
}

export const RATE_LIMIT_STORE = Symbol('RATE_LIMIT_STORE');
