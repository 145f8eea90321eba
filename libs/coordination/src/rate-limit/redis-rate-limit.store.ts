import { randomBytes } from 'node:crypto';
import type { RedisConnection } from '../connection/redis-connection.js';
import type { Clock } from '../core/clock.js';
import type { NormalizedPolicy } from './rate-limit-policy.js';
import type { CounterCheck, RateLimitStore, StoreCheckResult } from './rate-limit-store.interface.js';
import { RATE_LIMIT_MIXED_SCRIPT, RATE_LIMIT_SCRIPTS } from './rate-limit.scripts.js';

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

  check(keys: readonly string[], policies: readonly NormalizedPolicy[], cost: number, consume: boolean): Promise<StoreCheckResult> {
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
        const [code, limit, windowMs, burst] = policyArgs(policy);
        args.push(code, limit, windowMs, burst);
      }
    }
    // Microseconds, rounded as MemoryRateLimitStore rounds them, so both stores decide alike.
    if (this.clock) args.push(String(Math.round(this.clock.now() * 1000)));
    return this.connection.runScript<CheckReply>(script, keys, args).then(toCheckResult);
  }

  async reset(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.connection.execute('rateLimit.reset', (client) => client.del(...keys));
  }
}

/** The check scripts' reply (built in lua/include/check-policies.lua): `{ now_us, all_allowed, per policy: allowed, remaining, reset_ms, retry_ms }`. */
type CheckReply = readonly number[];

/** The one place a check reply is read: into the typed result, without closures or copies. */
function toCheckResult(reply: CheckReply): StoreCheckResult {
  const results: CounterCheck[] = [];
  for (let o = 2; o < reply.length; o += 4) {
    results.push({ allowed: reply[o] === 1, remaining: reply[o + 1], resetMs: reply[o + 2], retryMs: reply[o + 3] });
  }
  return { nowUs: reply[0], allowed: reply[1] === 1, results };
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
