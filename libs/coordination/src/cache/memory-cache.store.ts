import { ExpiringMap } from '../core/expiring-map.js';
import type { Clock } from '../core/clock.js';
import { globToRegExp } from '../keys/glob.js';
import type { CacheLease, CacheStore, CacheStoreEntry } from './cache-store.interface.js';
import { storeTtlMs } from './store-ttl.js';

/** One key: entries, leases and counters share one keyspace, as in Redis. */
interface Slot {
  value: string | Buffer;
  /** Clock ms at which the key is gone; Infinity for counters (no lifetime, as INCR leaves them). */
  expiresAt: number;
}

/**
 * The cache store in process memory, on the injected clock, with the contract of
 * `RedisCacheStore` (test/contract/stores/cache-store.contract.ts): one keyspace for entries,
 * leases and tag counters; a key is gone once `ttlMs` has passed on the clock; counters have no
 * lifetime; `deleteMatching` takes the SCAN glob KeyBuilder.pattern builds (`*`, `?`, `\`
 * escapes). Buffers are copied in and out, so no caller shares bytes with the store or another
 * caller. `memoryUsage` is the UTF-8 bytes of the key plus the bytes of the value (no
 * allocator overhead, unlike Redis MEMORY USAGE).
 *
 * A product feature (the memory driver: local development, users' tests, single-process apps),
 * not a test double; state is local to this module instance.
 *
 * @example
 * const store = new MemoryCacheStore(new ManualClock(1_700_000_000_000));
 * await store.set(key, 'v', 60_000);
 * await store.get(key); // 'v'
 */
export class MemoryCacheStore implements CacheStore {
  /** The keyspace: expired keys read as absent, dropped when read or swept as writes come in. */
  private readonly slots = new ExpiringMap<Slot>(() => this.clock.now());

  constructor(private readonly clock: Clock) {}

  /** Keys held now, expired ones not yet swept included (for tests and metrics). */
  get size(): number {
    return this.slots.size;
  }

  async get(key: string): Promise<string | null> {
    const slot = this.live(key);
    return slot ? asText(slot.value) : null;
  }

  async getMany(keys: readonly string[]): Promise<Array<string | null>> {
    return keys.map((key) => {
      const slot = this.live(key);
      return slot ? asText(slot.value) : null;
    });
  }

  async set(key: string, value: string, ttlMs: number, lease?: string): Promise<void> {
    const px = storeTtlMs(ttlMs);
    if (lease !== undefined) this.slots.delete(lease);
    this.write(key, value, px);
  }

  async setMany(entries: readonly CacheStoreEntry[]): Promise<void> {
    // Every lifetime is checked before anything is written, as the Redis store does.
    const ttls = entries.map((entry) => storeTtlMs(entry.ttlMs));
    entries.forEach((entry, i) => {
      if (entry.lease !== undefined) this.slots.delete(entry.lease);
      this.write(entry.key, entry.value, ttls[i]);
    });
  }

  async fill(key: string, value: string, ttlMs: number, lease: CacheLease): Promise<boolean> {
    const px = storeTtlMs(ttlMs);
    if (!this.dropLease(lease.key, lease.token)) return false;
    this.write(key, value, px);
    return true;
  }

  async delete(keys: readonly string[], leases: readonly string[] = []): Promise<number> {
    for (const lease of leases) this.slots.delete(lease);
    let deleted = 0;
    for (const key of keys) {
      if (this.live(key)) {
        this.slots.delete(key);
        deleted++;
      }
    }
    return deleted;
  }

  async exists(key: string): Promise<boolean> {
    return this.live(key) !== undefined;
  }

  async tryLease(key: string, token: string, ttlMs: number): Promise<boolean> {
    const px = storeTtlMs(ttlMs);
    if (this.live(key)) return false;
    this.write(key, token, px);
    return true;
  }

  async takeLease(key: string, token: string, ttlMs: number): Promise<void> {
    this.write(key, token, storeTtlMs(ttlMs));
  }

  async releaseLease(key: string, token: string): Promise<boolean> {
    return this.dropLease(key, token);
  }

  async readCounters(keys: readonly string[]): Promise<number[]> {
    return keys.map((key) => {
      const slot = this.live(key);
      return slot ? counterOf(key, slot) : 0;
    });
  }

  async bumpCounters(keys: readonly string[]): Promise<number[]> {
    return keys.map((key) => {
      const slot = this.live(key);
      if (!slot) {
        this.slots.set(key, { value: '1', expiresAt: Infinity });
        return 1;
      }
      // As INCR: a key that had a lifetime keeps it.
      const next = counterOf(key, slot) + 1;
      slot.value = String(next);
      return next;
    });
  }

  async deleteMatching(pattern: string): Promise<number> {
    const matches = globToRegExp(pattern);
    const now = this.clock.now();
    let deleted = 0;
    for (const [key, slot] of this.slots) {
      if (!matches.test(key)) continue;
      this.slots.delete(key);
      if (slot.expiresAt > now) deleted++;
    }
    return deleted;
  }

  async getBuffers(keys: readonly string[]): Promise<Array<Buffer | null>> {
    return keys.map((key) => {
      const slot = this.live(key);
      return slot ? Buffer.from(slot.value) : null;
    });
  }

  async setBuffers(entries: ReadonlyArray<CacheStoreEntry<Buffer>>): Promise<void> {
    const ttls = entries.map((entry) => storeTtlMs(entry.ttlMs));
    entries.forEach((entry, i) => this.write(entry.key, Buffer.from(entry.value), ttls[i]));
  }

  async memoryUsage(key: string): Promise<number | null> {
    const slot = this.live(key);
    return slot ? Buffer.byteLength(key) + byteLength(slot.value) : null;
  }

  private write(key: string, value: string | Buffer, px: number): void {
    this.slots.write(key, { value, expiresAt: this.clock.now() + px });
  }

  /** Compare-and-delete: drops `key` if it holds `token`. */
  private dropLease(key: string, token: string): boolean {
    const slot = this.live(key);
    if (!slot || asText(slot.value) !== token) return false;
    this.slots.delete(key);
    return true;
  }

  /** The slot of `key` unless it expired (then it is dropped). */
  private live(key: string): Slot | undefined {
    return this.slots.live(key);
  }
}

const asText = (value: string | Buffer): string => (typeof value === 'string' ? value : value.toString('utf8'));

const byteLength = (value: string | Buffer): number => (typeof value === 'string' ? Buffer.byteLength(value) : value.length);

/** The integer a counter key holds; as INCR, a value that is not one is an error, not 0. */
function counterOf(key: string, slot: Slot): number {
  const n = Number(asText(slot.value));
  if (!Number.isSafeInteger(n)) throw new Error(`ERR value of ${key} is not an integer or out of range`);
  return n;
}
