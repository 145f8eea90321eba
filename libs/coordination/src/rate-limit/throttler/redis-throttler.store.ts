import type { RedisConnection } from '../../connection/redis-connection.js';
import type { Clock } from '../../core/clock.js';
import type { ThrottlerStore } from './throttler-store.interface.js';
import type { CoordinationThrottlerRecord } from './throttler.types.js';
import { THROTTLER_INCREMENT_SCRIPT } from './throttler.scripts.js';

/**
 * The script's reply: usually one integer, ((total × 2^16 + window s) × 2^16 + block s) × 2 +
 * blocked; an array [total, window s, blocked, block s] when a figure is too large for that.
 */
type IncrementReply = number | readonly [number, number, number, number];

/**
 * The throttler store on Redis: every hit is one EVALSHA of lua/throttler-increment.lua on one
 * key (one cluster slot), on the server clock (TIME) unless a clock is given, so instances with
 * skewed clocks agree.
 *
 * @example
 * const store = new RedisThrottlerStore(connection); // server time (what the module registers)
 * // Tests: decide on a ManualClock instead; every instance sharing the counters must share it.
 * const manual = new RedisThrottlerStore(connection, new ManualClock(1_700_000_000_000));
 */
export class RedisThrottlerStore implements ThrottlerStore {
  /**
   * The script's arguments by ttl, for the last limit and block seen with it: a throttler calls
   * with the same three numbers every time, so they are turned into strings once, not per hit.
   */
  private readonly argsByTtl = new Map<number, ThrottleArgs>();

  /** @param clock replaces the server's TIME when given (one extra script argument). */
  constructor(private readonly connection: RedisConnection, private readonly clock?: Clock) {}

  increment(key: string, ttlMs: number, limit: number, blockDurationMs: number): Promise<CoordinationThrottlerRecord> {
    let args: readonly string[];
    if (this.clock) {
      args = [String(ttlMs), String(limit), String(blockDurationMs), String(Math.floor(this.clock.now()))];
    } else {
      let cached = this.argsByTtl.get(ttlMs);
      if (cached === undefined || cached.limit !== limit || cached.block !== blockDurationMs) {
        if (this.argsByTtl.size >= MAX_CACHED_ARGS) this.argsByTtl.clear();
        cached = { limit, block: blockDurationMs, args: [String(ttlMs), String(limit), String(blockDurationMs)] };
        this.argsByTtl.set(ttlMs, cached);
      }
      args = cached.args;
    }
    return this.connection.runScript<IncrementReply>(THROTTLER_INCREMENT_SCRIPT, [key], args).then(toHit);
  }
}

/** Argument lists kept (one per ttl in use: a handful of throttlers). */
const MAX_CACHED_ARGS = 100;

interface ThrottleArgs {
  readonly limit: number;
  readonly block: number;
  readonly args: readonly string[];
}

/** The one place the script's reply is read. */
function toHit(reply: IncrementReply): CoordinationThrottlerRecord {
  if (typeof reply !== 'number') {
    return { totalHits: reply[0], timeToExpire: reply[1], isBlocked: reply[2] === 1, timeToBlockExpire: reply[3], source: 'redis' };
  }
  const blocked = reply % 2;
  let rest = (reply - blocked) / 2;
  const blockS = rest % 65_536;
  rest = (rest - blockS) / 65_536;
  const windowS = rest % 65_536;
  return { totalHits: (rest - windowS) / 65_536, timeToExpire: windowS, isBlocked: blocked === 1, timeToBlockExpire: blockS, source: 'redis' };
}
