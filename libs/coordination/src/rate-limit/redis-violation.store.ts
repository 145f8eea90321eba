import type { RedisConnection } from '../connection/redis-connection.js';
import type { Clock } from '../core/clock.js';
import type { KeyBuilder } from '../keys/key-builder.js';
import { RECORD_VIOLATIONS_SCRIPT } from './rate-limit.scripts.js';
import type { RateLimitViolation } from './rate-limit.types.js';
import type { AlertCrossing, AlertRule, ViolationLogLimits, ViolationStore } from './violation-store.interface.js';

const CAPABILITY = 'ratelimit-log';

/**
 * Redis: a capped LIST per tenant (LPUSH + LTRIM) and a HASH of counters per alert window.
 * Both are keyed by the tenant as resource, so tenants spread over cluster shards while one
 * tenant's keys share the hash tag the record script needs. The log expires `retentionMs`
 * after its last append, so deleted tenants leave nothing behind.
 * Alert windows follow the server clock unless a `clock` is given (the module passes its
 * clock only when the application configured one, as for the rate-limit scripts).
 *
 * @example
 * const store = new RedisViolationStore(connection, core.keys, { maxPerTenant: 1_000, retentionMs: 604_800_000 });
 */
export class RedisViolationStore implements ViolationStore {
  constructor(
    private readonly connection: RedisConnection,
    private readonly keys: KeyBuilder,
    private readonly limits: ViolationLogLimits,
    private readonly clock?: Clock,
  ) {}

  async append(tenant: string, violations: readonly RateLimitViolation[], rule: AlertRule): Promise<AlertCrossing[]> {
    const now = this.clock ? Math.floor(this.clock.now()) : '';
    const args: Array<string | number> = [this.limits.maxPerTenant, rule.threshold, rule.windowMs, now, this.limits.retentionMs];
    for (const v of violations) args.push(v.key, JSON.stringify(v));
    const reply = await this.connection.runScript<Array<string | number>>(RECORD_VIOLATIONS_SCRIPT, this.keysOf(tenant), args);
    const crossings: AlertCrossing[] = [];
    for (let i = 0; i < reply.length; i += 2) crossings.push({ key: String(reply[i]), violations: Number(reply[i + 1]) });
    return crossings;
  }

  async list(tenant: string, max: number): Promise<RateLimitViolation[]> {
    const [log] = this.keysOf(tenant);
    const items = await this.connection.execute('rateLimit.getViolations', (client) => client.lrange(log, 0, Math.min(max, this.limits.maxPerTenant) - 1));
    return items.map((item) => JSON.parse(item) as RateLimitViolation);
  }

  private keysOf(tenant: string): [string, string] {
    return [this.keys.key(tenant, CAPABILITY, tenant), this.keys.key(tenant, CAPABILITY, tenant, { suffix: 'alerts' })];
  }
}
