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
    const id = `${this.idPrefix}${(this.sequence = (this.sequence + 1) % 0x7fffffff)}`;
    const first = policies[0];
    if (policies.length === 1) {
      const [code, limit, windowMs, burst] = policyArgs(first);
      return this.connection.runScript<StoreReply>(RATE_LIMIT_SCRIPTS[first.algorithm], keys, [consume ? '1' : '0', costArg(cost), id, code, limit, windowMs, burst]);
    }
    let script = RATE_LIMIT_SCRIPTS[first.algorithm];
    const args: string[] = [consume ? '1' : '0', costArg(cost), id];
    for (const policy of policies) {
      if (policy.algorithm !== first.algorithm) script = RATE_LIMIT_MIXED_SCRIPT;
      args.push(...policyArgs(policy));
    }
    return this.connection.runScript<StoreReply>(script, keys, args);
  }

  async reset(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.connection.execute('rateLimitReset', (client) => client.del(...keys));
  }
}

// Normalized policies are frozen and reused across calls (see normalizePolicy), so their
// script arguments are stringified once rather than by the client on every call.
const POLICY_ARGS = new WeakMap<NormalizedPolicy, readonly [string, string, string, string]>();

function policyArgs(policy: NormalizedPolicy): readonly [string, string, string, string] {
  let args = POLICY_ARGS.get(policy);
  if (!args) POLICY_ARGS.set(policy, (args = [String(policy.code), String(policy.limit), String(policy.windowMs), String(policy.burst)]));
  return args;
}

const costArg = (cost: number): string => (cost === 1 ? '1' : String(cost));
