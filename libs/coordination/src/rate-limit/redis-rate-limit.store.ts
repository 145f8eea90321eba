import { randomBytes } from 'node:crypto';
import type { RedisConnection } from '../connection/redis-connection.js';
import type { NormalizedPolicy } from './rate-limit-policy.js';
import { RATE_LIMIT_MIXED_SCRIPT, RATE_LIMIT_SCRIPTS } from './rate-limit.scripts.js';
import type { RateLimitStore, StoreReply } from './rate-limit.store.js';

/**
 * Rate-limit store on Redis: every check is one EVALSHA of an atomic script that reads the
 * server clock (TIME), so instances with skewed clocks agree. All keys of one check must
 * share a hash tag (the service builds them so).
 */
export class RedisRateLimitStore implements RateLimitStore {
  /** Prefix of request ids, unique per store instance; ids name sliding-window log entries. */
  private readonly idPrefix = randomBytes(6).toString('base64url');
  private sequence = 0;

  constructor(private readonly connection: RedisConnection) {}

  check(keys: readonly string[], policies: readonly NormalizedPolicy[], cost: number, consume: boolean): Promise<StoreReply> {
    let script = RATE_LIMIT_SCRIPTS[policies[0].algorithm];
    const args: Array<string | number> = [consume ? '1' : '0', cost, `${this.idPrefix}${(this.sequence = (this.sequence + 1) % 0x7fffffff)}`];
    for (const policy of policies) {
      if (policy.algorithm !== policies[0].algorithm) script = RATE_LIMIT_MIXED_SCRIPT;
      args.push(policy.code, policy.limit, policy.windowMs, policy.burst);
    }
    return this.connection.runScript<StoreReply>(script, keys, args);
  }

  async reset(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.connection.execute('rateLimitReset', (client) => client.del(...keys));
  }
}
