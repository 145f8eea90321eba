/**
 * Remembers keys known to be blocked until a given time, so that a client hammering a
 * blocked key is answered without a Redis round trip. Exact for every algorithm: once
 * denied for a cost, nothing but time (or `reset()`) can make room before the retry time.
 * Bounded: the oldest entry is evicted past `maxEntries`.
 */
export class DenyCache {
  private readonly blocked = new Map<string, { untilMs: number; cost: number; remaining: number; resetUntilMs: number }>();

  constructor(private readonly maxEntries: number) {}

  /** Records that `key` denies a call of `cost` until `untilMs` (local clock). */
  block(key: string, cost: number, untilMs: number, remaining: number, resetUntilMs: number): void {
    if (this.maxEntries <= 0) return;
    this.blocked.delete(key);
    if (this.blocked.size >= this.maxEntries) this.blocked.delete(this.blocked.keys().next().value as string);
    this.blocked.set(key, { untilMs, cost, remaining, resetUntilMs });
  }

  /** The block on `key` for a call of `cost` at `nowMs`, if any. */
  lookup(key: string, cost: number, nowMs: number): { untilMs: number; remaining: number; resetUntilMs: number } | undefined {
    if (this.blocked.size === 0) return undefined;
    const entry = this.blocked.get(key);
    if (!entry) return undefined;
    if (nowMs >= entry.untilMs) {
      this.blocked.delete(key);
      return undefined;
    }
    // A denial for a larger cost says nothing about a smaller one.
    return cost >= entry.cost ? entry : undefined;
  }

  forget(key: string): void {
    this.blocked.delete(key);
  }

  get size(): number {
    return this.blocked.size;
  }
}
