/** Options every cache call accepts. */
export interface CacheCallOptions {
  /** The tenant whose namespace the key lives in; default: the tenant of the current context. */
  tenant?: string;
}

/** Options of `CacheService.get`, `has` and `mget`. */
export interface CacheGetOptions extends CacheCallOptions {
  /** Read (and fill) the in-process L1; default: `cache.l1.enabled`. `false` always asks Redis. */
  l1?: boolean;
}

/** Options of `CacheService.set` and one entry of `mset`. */
export interface CacheSetOptions extends CacheCallOptions {
  /** Lifetime of the entry; default `cache.defaultTtlMs`. */
  ttlMs?: number;
  /** Tags of the entry: `invalidateTags` of any of them removes it, on every instance. */
  tags?: readonly string[];
  /** Also keep it in this instance's L1; default: `cache.l1.enabled`. */
  l1?: boolean;
  /**
   * Stale-while-revalidate window after `ttlMs`: the entry stays in Redis `ttlMs + staleMs`, and
   * a `getOrSet` (or `lookup`) in that window serves the old value (counted as a stale serve)
   * while one instance of the fleet refreshes it in the background. `get`, `has` and `mget` never
   * serve it. Default `cache.staleMs`.
   */
  staleMs?: number;
}

/** Options of `CacheService.getOrSet` (`staleMs`: the window in which it serves and refreshes a stale value). */
export type GetOrSetOptions = CacheSetOptions;

/**
 * Options of `CacheService.getOrSetState`: those of `getOrSet`, and how it reads.
 *
 * @example
 * const options: GetOrSetStateOptions = { ttlMs: 30_000, xfetch: false, refresh: clientSentNoCache };
 */
export interface GetOrSetStateOptions extends GetOrSetOptions {
  /**
   * Let a fresh hit start an early background refresh by the loader (XFetch, `cache.xfetchBeta`);
   * default true. `false` for loaders that must run only when their caller waits for them (an
   * HTTP handler). Stale serves refresh either way.
   */
  xfetch?: boolean;
  /**
   * Reload: skip the cached value and load it again through the coalesced, leased path, storing
   * the new value (with this call's `ttlMs`, `staleMs` and `tags`) and dropping the old one from
   * every L1; state `miss`. It joins a load of the key already running in this process, and on
   * another instance waits for the value that instance stores, never taking the entry it
   * replaces. A reload whose loader returns undefined leaves the cached value in place. Default false.
   */
  refresh?: boolean;
}

/** One entry of `CacheService.mset`. */
export interface CacheEntryInput<T = unknown> {
  key: string;
  value: T;
  ttlMs?: number;
  tags?: readonly string[];
  /** See CacheSetOptions.staleMs. */
  staleMs?: number;
}

/**
 * What `CacheService.lookup` found: a fresh value (`hit`), a value past its `ttlMs` that is still
 * within the stale-while-revalidate window it was written with (`stale`), or nothing (`miss`).
 * From `getOrSetState`, `miss` means the value was loaded (by its loader, or by a load it waited
 * for here or on another instance).
 *
 * @example
 * const { state, value } = await cache.getOrSetState('report', build, { staleMs: 60_000 });
 */
export interface CacheLookup<T = unknown> {
  readonly state: 'hit' | 'stale' | 'miss';
  readonly value: T | undefined;
}

/** Counters of one CacheService (this instance, since it started; every tenant). */
export interface CacheStats {
  /** Reads that found a value (L1 + L2, stale serves included). */
  hits: number;
  /** Reads that found nothing. */
  misses: number;
  /** hits / (hits + misses), 0 before the first read. */
  hitRatio: number;
  l1Hits: number;
  l2Hits: number;
  /** Values served from the stale-while-revalidate window. */
  staleServes: number;
  /** Loader calls made by this instance (misses it won the lease for, refreshes, fallbacks). */
  loaderCalls: number;
  /** Loader calls that threw. */
  loaderErrors: number;
  /** Total time spent in loaders, ms. */
  loaderTimeMs: number;
  /** Misses that waited for a loader already running (in this process or on another instance). */
  coalesced: number;
  /** Waits for another instance's loader that ran out (`cache.leaseWaitMs`) and called the loader here. */
  leaseWaitTimeouts: number;
  /** Background refreshes started (stale-while-revalidate and early expiration). */
  refreshes: number;
  /** Redis failures counted (the cache degraded to L1 or the loader, or threw under `onRedisUnavailable: 'throw'`). */
  errors: number;
  /** Entries and bytes held in L1 now. */
  l1Entries: number;
  l1Bytes: number;
}
