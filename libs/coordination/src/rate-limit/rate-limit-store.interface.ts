import type { NormalizedPolicy } from './rate-limit-policy.js';

/** One policy's answer to a store check. Times are whole ms, rounded up from the store's µs. */
export interface CounterCheck {
  readonly allowed: boolean;
  /**
   * Units left once this check's cost is taken, when allowed (whether or not it was taken:
   * on peek, or when another policy of the check denied); units left now, when denied.
   */
  readonly remaining: number;
  /** Until the quota is whole again if nothing more is consumed. */
  readonly resetMs: number;
  /** Until a call of the same cost could pass; 0 when allowed. */
  readonly retryMs: number;
}

/** A store's answer to one check: all-or-nothing over its policies. */
export interface StoreCheckResult {
  /** The store's clock at the decision, in µs since the epoch (Redis TIME, or the injected clock). */
  readonly nowUs: number;
  /** Every policy allowed; with `consume`, the cost was then taken from each. */
  readonly allowed: boolean;
  /** One per policy, in the order of the check's keys. */
  readonly results: readonly CounterCheck[];
}

/**
 * Atomic primitives of the rate-limit capability; `RedisRateLimitStore` (one Lua script per
 * check) and `MemoryRateLimitStore` have identical semantics (test/contract/stores/rate-limit-store.contract.ts).
 *
 * @example
 * const answer = await store.check([counterKey], [normalizePolicy({ limit: 10, windowMs: 1_000 })], 1, true);
 * if (!answer.allowed) logger.warn(`retry in ${answer.results[0].retryMs} ms`);
 */
export interface RateLimitStore {
  /**
   * Checks every policy (`keys[i]` is the counter of `policies[i]`; on Redis all keys share
   * one hash tag) and, when `consume` is true and all allow, takes `cost` from each;
   * otherwise changes nothing.
   */
  check(keys: readonly string[], policies: readonly NormalizedPolicy[], cost: number, consume: boolean): Promise<StoreCheckResult>;
  /** Deletes the counters. */
  reset(keys: readonly string[]): Promise<void>;
}

/** Injection token of the rate-limit store (Redis or memory, chosen by `rate-limit.capability.ts`). */
export const RATE_LIMIT_STORE = Symbol('RATE_LIMIT_STORE');
