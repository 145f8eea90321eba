import type { Clock } from '../core/clock.js';
import type { RateLimitViolation } from './rate-limit.types.js';
import type { AlertCrossing, AlertRule, ViolationLogLimits, ViolationStore } from './violation-store.interface.js';

/**
 * Memory: a ring buffer per tenant and counters per alert window, on the injected clock.
 * A tenant's buffer is dropped once it has not been appended to for `retentionMs`, checked
 * lazily (no timers).
 *
 * @example
 * const store = new MemoryViolationStore(new ManualClock(1_700_000_000_000), { maxPerTenant: 1_000, retentionMs: 604_800_000 });
 */
export class MemoryViolationStore implements ViolationStore {
  /** In order of last append (re-inserted on every append), so the stalest tenants come first. */
  private readonly logs = new Map<string, { items: RateLimitViolation[]; next: number; appendedAt: number }>();
  private readonly alerts = new Map<string, { window: number; counts: Map<string, number> }>();
  private readonly maxPerTenant: number;
  private readonly retentionMs: number;

  constructor(private readonly clock: Clock, limits: ViolationLogLimits) {
    this.maxPerTenant = limits.maxPerTenant;
    this.retentionMs = limits.retentionMs;
  }

  async append(tenant: string, violations: readonly RateLimitViolation[], rule: AlertRule): Promise<AlertCrossing[]> {
    const now = this.clock.now();
    this.evictExpired(now);
    let log = this.logs.get(tenant);
    if (log) this.logs.delete(tenant);
    else log = { items: [], next: 0, appendedAt: now };
    log.appendedAt = now;
    this.logs.set(tenant, log);
    const idx = Math.floor(now / rule.windowMs);
    let counters = this.alerts.get(tenant);
    if (!counters || counters.window !== idx) this.alerts.set(tenant, (counters = { window: idx, counts: new Map() }));
    const crossings: AlertCrossing[] = [];
    for (const v of violations) {
      if (log.items.length < this.maxPerTenant) log.items.push(v);
      else log.items[log.next] = v;
      log.next = (log.next + 1) % this.maxPerTenant;
      const n = (counters.counts.get(v.key) ?? 0) + 1;
      counters.counts.set(v.key, n);
      if (n === rule.threshold) crossings.push({ key: v.key, violations: n });
    }
    return crossings;
  }

  async list(tenant: string, max: number): Promise<RateLimitViolation[]> {
    this.evictExpired(this.clock.now());
    const log = this.logs.get(tenant);
    if (!log) return [];
    const { items, next } = log;
    const ordered = items.length < this.maxPerTenant ? [...items] : [...items.slice(next), ...items.slice(0, next)];
    return ordered.reverse().slice(0, max);
  }

  /** Amortised O(1): stops at the first tenant appended to within the retention. */
  private evictExpired(now: number): void {
    for (const [tenant, log] of this.logs) {
      if (now - log.appendedAt < this.retentionMs) return;
      this.logs.delete(tenant);
      this.alerts.delete(tenant);
    }
  }
}
