/** Injection token of the {@link CacheStore} of one module instance. */
export const CACHE_STORE = Symbol('CACHE_STORE');

/** One entry to write with {@link CacheStore.setMany}. */
export interface CacheStoreEntry<V extends string | Buffer = string> {
  readonly key: string;
  readonly value: V;
  /** Lifetime in Redis, > 0. */
  readonly ttlMs: number;
  /**
   * The entry's `getOrSet` lease key (same hash tag), dropped before the value is written: a
   * loader holding it read its data before this write, and its `fill` must not overwrite it.
   */
  readonly lease?: string;
}

/** The lease a `getOrSet` holder took with {@link CacheStore.tryLease}. */
export interface CacheLease {
  readonly key: string;
  readonly token: string;
}

/**
 * The atomic primitives of the cache: the data store under CacheService and EmbeddingCache.
 * Keys are full keys from the KeyBuilder (`<prefix>:<tenant>:cache:{<key>}`, its `:lease`
 * suffix, `<prefix>:<tenant>:cache-tag:{<tag>}`, `<prefix>:<tenant>:embedding:{<hash>}`); a
 * store knows nothing of tenants, entry formats or tags beyond counters. Every method is one
 * round trip on a standalone server, one per node touched on a cluster (keys of different
 * slots are sent as separate commands on one auto-pipeline, never as a cross-slot command).
 *
 * Leases: a `getOrSet` loader writes only while it holds its entry's lease (`fill`); every
 * explicit write of an entry (`set`, `setMany`, `delete` given the lease key, and
 * `deleteMatching`, whose patterns match lease keys too) drops that lease first, so a value
 * loaded before the write can never overwrite it.
 *
 * `RedisCacheStore` keeps the data in Redis, `MemoryCacheStore` in process on the injected
 * clock, with the same contract (test/contract/stores/cache-store.contract.ts).
 *
 * @example
 * const leased = await store.tryLease(leaseKey, token, 10_000);
 * if (leased) await store.fill(entryKey, encoded, 60_000, { key: leaseKey, token });
 */
export interface CacheStore {
  /** The value of `key`, or null when it is absent or expired. */
  get(key: string): Promise<string | null>;
  /** `get` for many keys, in order; one round trip (per node on a cluster). */
  getMany(keys: readonly string[]): Promise<Array<string | null>>;
  /**
   * Writes `value` with a lifetime of `ttlMs` (> 0), replacing any value; drops `lease` (the
   * entry's lease key) first, in the same round trip.
   */
  set(key: string, value: string, ttlMs: number, lease?: string): Promise<void>;
  /** `set` for many entries (each dropping its `lease` first); one round trip (per node on a cluster). */
  setMany(entries: readonly CacheStoreEntry[]): Promise<void>;
  /**
   * Writes the value a lease holder loaded, and drops the lease, only if `lease.token` still
   * holds it, atomically (the lease key shares the entry's hash tag). Otherwise nothing is
   * written: the lease expired, was taken over (`takeLease`), or was dropped by a write or
   * deletion of the entry, which the loaded value must not overwrite. Returns whether it wrote.
   */
  fill(key: string, value: string, ttlMs: number, lease: CacheLease): Promise<boolean>;
  /**
   * Deletes the keys that exist; returns how many did. `leases` (lease keys of these entries,
   * same hash tags) are dropped first, in the same round trip, and not counted.
   */
  delete(keys: readonly string[], leases?: readonly string[]): Promise<number>;
  /** Whether `key` exists (and has not expired). */
  exists(key: string): Promise<boolean>;
  /** Takes the lease `key` for `token` for `ttlMs` unless someone holds it (SET NX PX). */
  tryLease(key: string, token: string, ttlMs: number): Promise<boolean>;
  /**
   * Takes the lease `key` for `token` for `ttlMs` whoever holds it (SET PX): a waiter that gave
   * up on the holder loads under its own token, and the previous holder can no longer `fill`.
   */
  takeLease(key: string, token: string, ttlMs: number): Promise<void>;
  /** Drops the lease if `token` holds it; returns whether it did. */
  releaseLease(key: string, token: string): Promise<boolean>;
  /** The current counter of each key (0 when absent), in order: tag versions. */
  readCounters(keys: readonly string[]): Promise<number[]>;
  /** Increments each counter by one and returns the new values, in order: invalidates tags. */
  bumpCounters(keys: readonly string[]): Promise<number[]>;
  /**
   * Deletes every key matching `pattern` (a SCAN glob from KeyBuilder.pattern, escapes
   * included) on every master, in SCAN batches; returns how many were deleted.
   */
  deleteMatching(pattern: string): Promise<number>;
  /** Binary values (embeddings): the bytes of each key, in order, null when absent. */
  getBuffers(keys: readonly string[]): Promise<Array<Buffer | null>>;
  /** Writes binary values; one round trip (per node on a cluster). */
  setBuffers(entries: ReadonlyArray<CacheStoreEntry<Buffer>>): Promise<void>;
  /** Bytes `key` takes in the store (Redis MEMORY USAGE; the memory store: key + value bytes), null when absent. */
  memoryUsage(key: string): Promise<number | null>;
}
