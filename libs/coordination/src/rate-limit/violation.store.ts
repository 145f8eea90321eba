import type { Clock } from '../core/clock.js';
import type { CoordinationCore } from '../core/coordination-core.js';
import { loadLuaScript } from '../connection/lua-script.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import type { RateLimitViolation } from './rate-limit.types.js';
import { scriptClockOf } from './redis-rate-limit.store.js';

const RECORD = loadLuaScript('coordRateLimitRecordViolations', import.meta.url, './lua/record-violations.lua');
const CAPABILITY = 'ratelimit-log';

export interface AlertRule {
  threshold: number;
  windowMs: number;
}

/** A key whose violations reached the alert threshold in the current alert window. */
export interface AlertCrossing {
  key: string;
  violations: number;
}

/** Bounded per-tenant log of violations, with per-key counting for alerts. */
export interface ViolationStore {
  append(tenant: string, violations: readonly RateLimitViolation[], rule: AlertRule): Promise<AlertCrossing[]>;
  /** Newest first, at most `max`. */
  list(tenant: string, max: number): Promise<RateLimitViolation[]>;
}

/**
 * Redis: a capped LIST per tenant (LPUSH + LTRIM) and a HASH of counters per alert window.
 * Both are keyed by the tenant as resource, so tenants spread over cluster shards while one
 * tenant's keys share the hash tag the record script needs. The log expires `retentionMs`
 * after its last append, so deleted tenants leave nothing behind.
 * Alert windows follow the server clock unless the application configured a `clock`
 * (see `scriptClockOf`).
 */
export class RedisViolationStore implements ViolationStore {
  private readonly clock: Clock | undefined;

  constructor(
    private readonly core: CoordinationCore,
    private readonly connection: RedisConnection,
    private readonly maxPerTenant: number,
    private readonly retentionMs: number,
  ) {
    this.clock = scriptClockOf(core);
  }

  async append(tenant: string, violations: readonly RateLimitViolation[], rule: AlertRule): Promise<AlertCrossing[]> {
    const now = this.clock ? Math.floor(this.clock.now()) : '';
    const args: Array<string | number> = [this.maxPerTenant, rule.threshold, rule.windowMs, now, this.retentionMs];
    for (const v of violations) args.push(v.key, JSON.stringify(v));
    const reply = await this.connection.runScript<Array<string | number>>(RECORD, this.keys(tenant), args);
    const crossings: AlertCrossing[] = [];
    for (let i = 0; i < reply.length; i += 2) crossings.push({ key: String(reply[i]), violations: Number(reply[i + 1]) });
    return crossings;
  }

  async list(tenant: string, max: number): Promise<RateLimitViolation[]> {
    const [log] = this.keys(tenant);
    const items = await this.connection.execute('rateLimitViolations', (client) => client.lrange(log, 0, Math.min(max, this.maxPerTenant) - 1));
    return items.map((item) => JSON.parse(item) as RateLimitViolation);
  }

  private keys(tenant: string): [string, string] {
    return [
      this.core.keys.key(tenant, CAPABILITY, tenant),
      this.core.keys.key(tenant, CAPABILITY, tenant, { suffix: 'alerts' }),
    ];
  }
}

/**
 * Memory: a ring buffer per tenant and counters per alert window, on the injected clock.
 * A tenant's buffer is dropped once it has not been appended to for `retentionMs`, checked
 * lazily (no timers).
 */
export class MemoryViolationStore implements ViolationStore {
  /** In order of last append (re-inserted on every append), so the stalest tenants come first. */
  private readonly logs = new Map<string, { items: RateLimitViolation[]; next: number; appendedAt: number }>();
  private readonly alerts = new Map<string, { window: number; counts: Map<string, number> }>();

  constructor(private readonly clock: Clock, private readonly maxPerTenant: number, private readonly retentionMs: number) {}

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
