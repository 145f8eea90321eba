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
    const first = policies[0];
    let script = RATE_LIMIT_SCRIPTS[first.algorithm];
    let args: readonly string[];
    if (policies.length === 1 && !this.clock && first.algorithm !== 'sliding-window' && cost === 1 && consume) {
      // The most common call of all: its whole argument list is computed once per policy.
      args = first.consumeOne;
    } else {
      let mixed = false;
      for (let i = 1; i < policies.length; i++) if (policies[i].algorithm !== first.algorithm) mixed = true;
      if (mixed) script = RATE_LIMIT_MIXED_SCRIPT;
      // See lua/include/prelude.lua: the signed cost, the request id only where a sliding-window
      // log may record it (never on a peek), each policy's arguments, then the injected clock's time if any.
      const list = [consume ? costArg(cost) : `-${cost}`];
      if (mixed || first.algorithm === 'sliding-window') list.push(consume ? this.nextId() : '');
      for (const policy of policies) {
        // The mixed script: algorithm code, limit, window (ms), burst ('' when unused or the limit).
        if (mixed) list.push(CODE_ARG[policy.code], policy.args[0], policy.args[1], policy.args[2] ?? '');
        else list.push(...policy.args);
      }
      // Microseconds, rounded as MemoryRateLimitStore rounds them, so both stores decide alike.
      if (this.clock) list.push(String(Math.round(this.clock.now() * 1000)));
      args = list;
    }
    return this.connection.runScript<CheckReply>(script, keys, args).then(toCheckResult);
  }

  /** A request id no other call of this fleet uses within a window: this store's prefix and a base-36 sequence. */
  private nextId(): string {
    this.sequence = (this.sequence + 1) % 0x7fffffff;
    return this.idPrefix + this.sequence.toString(36);
  }

  async reset(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.connection.execute('rateLimit.reset', (client) => client.del(...keys));
  }
}

/** The check scripts' reply (built in lua/include/check-policies.lua): `{ now_us, per policy: allowed, remaining, reset_ms, retry_ms }`. */
type CheckReply = readonly number[];

/** The one place a check reply is read: into the typed result, without closures or copies. */
function toCheckResult(reply: CheckReply): StoreCheckResult {
  const results: CounterCheck[] = [];
  let allowed = true;
  for (let o = 1; o < reply.length; o += 4) {
    if (reply[o] !== 1) allowed = false;
    results.push({ allowed: reply[o] === 1, remaining: reply[o + 1], resetMs: reply[o + 2], retryMs: reply[o + 3] });
  }
  return { nowUs: reply[0], allowed, results };
}

/** Algorithm codes as mixed-script arguments (ALGORITHM_CODE, 1-5). */
const CODE_ARG: readonly string[] = ['', '1', '2', '3', '4', '5'];

const costArg = (cost: number): string => (cost === 1 ? '1' : String(cost));
