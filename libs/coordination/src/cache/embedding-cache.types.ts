/**
 * A vector to cache. A `Float32Array` is stored bit-exact (NaN payloads, -0, subnormals and
 * infinities included); an array of numbers is converted to Float32 first, so each number is
 * rounded to the nearest Float32 (as `Math.fround` does) and must be finite in that range.
 *
 * @example
 * const vector: EmbeddingVector = new Float32Array(response.data[0].embedding);
 */
export type EmbeddingVector = Float32Array | readonly number[];

/**
 * Options of `EmbeddingCache.retrieve`, `retrieveMany` and `memoryUsage`.
 *
 * @example
 * await embeddings.retrieve(text, { model: 'text-embedding-3-small', tenant: 'acme' });
 */
export interface EmbeddingReadOptions {
  /** The model that computed the vectors: part of the key, so two models never share an entry. 1-128 characters, no control characters. */
  model: string;
  /** The tenant whose namespace the vectors live in; default: the tenant of the current context. */
  tenant?: string;
}

/**
 * Options of `EmbeddingCache.store` and `storeMany`.
 *
 * @example
 * await embeddings.store(text, vector, { model: 'text-embedding-3-small', ttlMs: 86_400_000 });
 */
export interface EmbeddingStoreOptions extends EmbeddingReadOptions {
  /** Lifetime of the entries in ms (> 0, at most 365 days, rounded up to whole ms); default `cache.embeddingTtlMs` (7 days). */
  ttlMs?: number;
}

/**
 * One entry of `EmbeddingCache.storeMany`.
 *
 * @example
 * const items: EmbeddingItem[] = texts.map((text, i) => ({ text, vector: vectors[i] }));
 */
export interface EmbeddingItem {
  text: string;
  vector: EmbeddingVector;
}

/**
 * Counters of one EmbeddingCache (this instance since it started, every tenant).
 *
 * @example
 * const { hits, misses } = embeddings.stats();
 * logger.log(`embedding hit ratio ${hits / Math.max(1, hits + misses)}`);
 */
export interface EmbeddingCacheStats {
  /** Vectors written (each item of `storeMany` counts). */
  stored: number;
  /** Texts `retrieve` / `retrieveMany` found a vector for. */
  hits: number;
  /** Texts they found none for, those served as misses while Redis was unreachable included. */
  misses: number;
  /** Calls that met an unreachable Redis (reads served as misses, and writes that threw). */
  errors: number;
  /**
   * Bytes the last vector measured with `memoryUsage` takes in the store (Redis `MEMORY USAGE`:
   * value, key and Redis' own overhead); absent until one was measured.
   */
  bytesPerVector?: number;
}
