import type { Clock } from '../../core/clock.js';
import type { ThrottlerStore } from './throttler-store.interface.js';
import type { CoordinationThrottlerRecord } from './throttler.types.js';

/** One counter, as the sorted set of lua/throttler-increment.lua holds it (times in ms on the store's clock). */
interface Entry {
  /** The window's end. */
  e: number;
  /** When the Redis key would expire: the entry is dropped after it. */
  x: number;
  /** The block's end, while blocked. */
  b?: number;
  /** Expiry of each live hit, ascending. */
  hits: number[];
}

/** Entries are swept at most once per this many calls, and only once there are this many. */
const SWEEP_EVERY = 1_000;

/**
 * The throttler store in process, on the injected clock, deciding exactly as
 * lua/throttler-increment.lua (keep them in step): the memory driver's store, and the local
 * limiter that answers while Redis is unreachable. Expired entries are swept as keys are used.
 *
 * @example
 * const store = new MemoryThrottlerStore(new ManualClock(1_700_000_000_000));
 * await store.increment('user:1', 60_000, 1, 60_000); // { totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0, source: 'memory' }
 */
export class MemoryThrottlerStore implements ThrottlerStore {
  private readonly entries = new Map<string, Entry>();
  private callsSinceSweep = 0;

  /** @param source what its answers say answered: `memory` (the memory driver) or `local` (the outage fallback). */
  constructor(private readonly clock: Clock, private readonly source: 'memory' | 'local' = 'memory') {}

  /** Live counters (for tests). */
  get size(): number {
    return this.entries.size;
  }

  async increment(key: string, ttl: number, limit: number, block: number): Promise<CoordinationThrottlerRecord> {
    const now = Math.floor(this.clock.now());
    this.maybeSweep(now);
    let entry = this.entries.get(key);
    if (entry !== undefined) {
      let pruned = 0;
      while (pruned < entry.hits.length && entry.hits[pruned] <= now) pruned++;
      if (pruned > 0) entry.hits.splice(0, pruned);
      // Window, block and hits all ended: forgotten, as @nestjs/throttler's sweep forgets it.
      if (entry.e <= now && entry.hits.length === 0 && (entry.b === undefined || entry.b <= now)) entry = undefined;
    }
    const e0 = entry?.e;
    const hits = entry?.hits ?? [];
    let b = entry?.b;
    let x = entry?.x;
    const e = e0 === undefined || e0 <= now ? now + ttl : e0;

    let blocked = false;
    let untilBlock = 0;
    let hit = false;
    let restarted = false;
    if (block <= 0) {
      blocked = hits.length >= limit;
      if (blocked) untilBlock = Math.ceil(((hits.length === 0 ? e : hits[0]) - now) / 1000);
      else hit = true;
    } else if (b !== undefined) {
      blocked = true;
      untilBlock = Math.ceil((b - now) / 1000);
      if (untilBlock <= 0) {
        // The block is over: every hit is forgotten, and this one counts afresh, unchecked.
        hits.length = 0;
        x = undefined;
        b = undefined;
        blocked = false;
        untilBlock = 0;
        hit = true;
        restarted = true;
      }
    } else {
      hit = true;
    }

    let total = hits.length;
    if (hit) {
      insertSorted(hits, now + ttl);
      total = hits.length;
      if (block > 0 && total > limit && !restarted) {
        blocked = true;
        b = now + block;
        untilBlock = Math.ceil(block / 1000);
      }
    } else if (block <= 0) {
      total = hits.length + 1;
    }

    let need = e;
    if (b !== undefined && b > need) need = b;
    if (hit && now + ttl > need) need = now + ttl;
    if (x === undefined || need > x) x = need + ttl;
    this.entries.set(key, { e, x, b, hits });
    return { totalHits: total, timeToExpire: Math.ceil((e - now) / 1000), isBlocked: blocked, timeToBlockExpire: untilBlock, source: this.source };
  }

  private maybeSweep(now: number): void {
    if (++this.callsSinceSweep < SWEEP_EVERY || this.entries.size < SWEEP_EVERY) return;
    this.callsSinceSweep = 0;
    for (const [key, entry] of this.entries) if (now > entry.x) this.entries.delete(key);
  }
}

/** Inserts `value` into the ascending `list`: at the end unless a shorter ttl than before made it earlier. */
function insertSorted(list: number[], value: number): void {
  let i = list.length;
  while (i > 0 && list[i - 1] > value) i--;
  list.splice(i, 0, value);
}
