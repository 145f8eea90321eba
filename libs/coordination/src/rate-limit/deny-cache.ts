/** What a denial was decided under: a call under another policy on the same counter is not answered from it. */
export interface DenyPolicy {
  readonly algorithm: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly burst: number;
}

interface Blocked { untilMs: number; cost: number; remaining: number; resetUntilMs: number; policy: DenyPolicy }

/**
 * Remembers keys known to be blocked until a given time, so that a client hammering a
 * blocked key is answered without a Redis round trip. Exact for every algorithm: once
 * denied for a cost, nothing but time (or `reset()`) can make room before the retry time,
 * as long as the policy is the same (a named policy's limit or window may change between calls).
 * Bounded: the oldest entry is evicted past `maxEntries`.
 */
export class DenyCache {
  private readonly blocked = new Map<string, Blocked>();

  constructor(private readonly maxEntries: number) {}

  /** Records that `key` denies a call of `cost` until `untilMs` (local clock). */
  block(key: string, policy: DenyPolicy, cost: number, untilMs: number, remaining: number, resetUntilMs: number): void {
    if (this.maxEntries <= 0) return;
    this.blocked.delete(key);
    if (this.blocked.size >= this.maxEntries) this.blocked.delete(this.blocked.keys().next().value as string);
    this.blocked.set(key, { untilMs, cost, remaining, resetUntilMs, policy });
  }

  /** The block on `key` for a call of `cost` under `policy` at `nowMs`, if any. */
  lookup(key: string, policy: DenyPolicy, cost: number, nowMs: number): { untilMs: number; remaining: number; resetUntilMs: number } | undefined {
    if (this.blocked.size === 0) return undefined;
    const entry = this.blocked.get(key);
    if (!entry) return undefined;
    if (nowMs >= entry.untilMs) {
      this.blocked.delete(key);
      return undefined;
    }
    // A denial for a larger cost, or under another limit or window, says nothing about this call.
    const p = entry.policy;
    if (p.limit !== policy.limit || p.windowMs !== policy.windowMs || p.algorithm !== policy.algorithm || p.burst !== policy.burst) return undefined;
    return cost >= entry.cost ? entry : undefined;
  }

  forget(key: string): void {
    this.blocked.delete(key);
  }

  get size(): number {
    return this.blocked.size;
  }
}
