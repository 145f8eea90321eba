import type { RateLimitViolation } from './rate-limit.types.js';

/** When a key's violations fire an alert: `threshold` of them within one aligned `windowMs`. */
export interface AlertRule {
  threshold: number;
  windowMs: number;
}

/** A key whose violations reached the alert threshold in the current alert window. */
export interface AlertCrossing {
  key: string;
  violations: number;
}

/**
 * Bounded per-tenant log of rate-limit violations, with per-key counting for alerts.
 * `RedisViolationStore` and `MemoryViolationStore` have identical semantics
 * (test/contract/stores/violation-store.contract.ts).
 *
 * @example
 * const crossings = await store.append('acme', [violation], { threshold: 100, windowMs: 60_000 });
 * const newest = await store.list('acme', 10);
 */
export interface ViolationStore {
  /**
   * Appends to the tenant's log (dropping the oldest beyond its cap) and counts each
   * violation against its key in the current alert window. Returns the keys whose count
   * reached the threshold exactly in this call, so one caller sees each crossing once.
   */
  append(tenant: string, violations: readonly RateLimitViolation[], rule: AlertRule): Promise<AlertCrossing[]>;
  /** Newest first, at most `max`. */
  list(tenant: string, max: number): Promise<RateLimitViolation[]>;
}

/** Injection token of the violation log (Redis or memory, chosen by `rate-limit.capability.ts`). */
export const VIOLATION_STORE = Symbol('RATE_LIMIT_VIOLATION_STORE');

/** Capacity and retention of a violation log, from the `rateLimit.violations` options. */
export interface ViolationLogLimits {
  /** Violations kept per tenant; older ones are dropped. */
  maxPerTenant: number;
  /** A tenant's log is dropped once nothing was appended to it for this long. */
  retentionMs: number;
}
