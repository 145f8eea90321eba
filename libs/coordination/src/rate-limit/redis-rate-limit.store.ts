import { randomBytes } from 'node:crypto';
import type { RedisConnection } from '../connection/redis-connection.js';
import type { Clock } from '../core/clock.js';
import type { CoordinationCore } from '../core/coordination-core.js';
import type { NormalizedPolicy } from './rate-limit-policy.js';
import { RATE_LIMIT_MIXED_SCRIPT, RATE_LIMIT_SCRIPTS } from './rate-limit.scripts.js';
import type { RateLimitStore, StoreReply } from './rate-limit.store.js';

/**
 * The clock the rate-limit scripts should use instead of the Redis server's: the module's
 * clock, but only when the application configured one (`clock` option, e.g. a ManualClock in
 * tests). Otherwise undefined, and the scripts read `TIME`, so that instances with skewed
 * clocks agree: the production default.
 */
export function scriptClockOf(core: CoordinationCore): Clock | undefined {
  return core.options.raw.clock !== undefined ? core.clock : undefined;
}

/**
 * Rate-limit store on Redis: every check is one EVALSHA of an atomic script that reads the
 * server clock (TIME), so instances with skewed clocks agree, unless a clock is given. All keys of one check must
 * share a hash tag (the service builds them so).
 *
 * @example
 * const store = new RedisRateLimitStore(connection); // server time (what the module registers)
 * // Tests: decide on a ManualClock instead; every instance sharing the counters must share it.
 * const manual = new RedisRateLimitStore(connection, new ManualClock(1_700_000_000_000));
 */
export class RedisRateLimitStore implements RateLimitStore {
  /** Prefix of request ids, unique per store instance; ids name sliding-window log entries. */
  private readonly idPrefix = randomBytes(6).toString('base64url');
  private sequence = 0;

  /** @param clock replaces the server's TIME when given (one extra script argument). */
  constructor(private readonly connection: RedisConnection, private readonly clock?: Clock) {}

  check(keys: readonly string[], policies: readonly NormalizedPolicy[], cost: number, consume: boolean): Promise<StoreReply> {
    const id = `${this.idPrefix}${(this.sequence = (this.sequence + 1) % 0x7fffffff)}`;
    const first = policies[0];
    let script = RATE_LIMIT_SCRIPTS[first.algorithm];
    let args: string[];
    if (policies.length === 1) {
      const [code, limit, windowMs, burst] = policyArgs(first);
      args = [consume ? '1' : '0', costArg(cost), id, code, limit, windowMs, burst];
    } else {
      args = [consume ? '1' : '0', costArg(cost), id];
      for (const policy of policies) {
        if (policy.algorithm !== first.algorithm) script = RATE_LIMIT_MIXED_SCRIPT;
        args.push(...policyArgs(policy));
      }
    }
    // Microseconds, rounded as MemoryRateLimitStore rounds them, so both stores decide alike.
    if (this.clock) args.push(String(Math.round(this.clock.now() * 1000)));
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
