/** Writes between sweeps at least; a sweep then waits for as many writes as entries it left. */
const SWEEP_EVERY = 1_000;

/**
 * The keyspace of a memory store: a Map whose values carry their own expiry (`expiresAt`, on the
 * store's clock, Infinity for none). An expired entry reads as absent and is dropped when read
 * (`live`); entries that expire without being read again are swept as new ones are written
 * (`write`): a sweep runs after as many writes as the map held after the previous one (at least
 * 1 000), so its cost stays constant per write and the map holds at most about twice its live
 * entries plus 1 000. Everything else is the Map's own API.
 *
 * @example
 * const held = new ExpiringMap<{ value: string; expiresAt: number }>(() => clock.now());
 * held.write('k', { value: 'v', expiresAt: clock.now() + 1_000 });
 * held.live('k', clock.now()); // the entry, until clock.now() reaches expiresAt
 */
export class ExpiringMap<V extends { expiresAt: number }> extends Map<string, V> {
  private writesSinceSweep = 0;
  private sweepAfter = SWEEP_EVERY;

  /** `now`: the store's clock (read lazily, so a store may pass `() => this.clock.now()` from a field initializer). */
  constructor(private readonly now: () => number) {
    super();
  }

  /** The entry of `key` unless it expired at `now` (then it is dropped). */
  live(key: string, now: number = this.now()): V | undefined {
    const entry = this.get(key);
    if (entry !== undefined && entry.expiresAt <= now) {
      this.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Sets `key`, counting the write towards the next sweep. */
  write(key: string, value: V): void {
    this.set(key, value);
    if (++this.writesSinceSweep >= this.sweepAfter) this.sweep();
  }

  private sweep(): void {
    this.writesSinceSweep = 0;
    const now = this.now();
    for (const [key, entry] of this) if (entry.expiresAt <= now) this.delete(key);
    this.sweepAfter = Math.max(SWEEP_EVERY, this.size);
  }
}
