import { Inject, Injectable, Logger } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { CacheFailures } from './cache-failures.js';
import { CacheMeter } from './cache-stats.js';
import { CACHE_STORE, type CacheStore, type CacheStoreEntry } from './cache-store.interface.js';
import { CACHE_OPTIONS, MAX_CACHE_TTL_MS, type ResolvedCacheOptions } from './cache.options.js';
import type { EmbeddingCacheStats, EmbeddingItem, EmbeddingReadOptions, EmbeddingStoreOptions, EmbeddingVector } from './embedding-cache.types.js';
import { checkModel, checkText, embeddingId, manyVectorBytes, vectorBytes, vectorOf } from './embedding-vector.js';
import { storeTtlMs } from './store-ttl.js';

/** Key segment of embeddings: `<prefix>:<tenant>:embedding:{<hash>}`. */
const CAPABILITY = 'embedding';

/**
 * A cache of embedding vectors, keyed by a hash of the model and the text, tenant-scoped, on
 * the cache's store (Redis, or in process on the memory driver).
 *
 * - **Format**: each vector is one string key `<prefix>:<tenant>:embedding:{<id>}` whose value
 *   is the Float32 bytes and nothing else (4 × dimensions bytes), `<id>` being
 *   base64url(sha256(model + NUL + text)). A `Float32Array` round-trips bit-exact (NaN payloads,
 *   -0, subnormals, infinities); numbers are rounded to Float32. Every vector read is a fresh
 *   `Float32Array` the caller owns. Any text is accepted, the empty string and texts of any
 *   length included: only its hash reaches Redis (hashed as UTF-8, a lone surrogate as U+FFFD).
 * - **Memory**: Redis rounds each value up to an allocator size class; on Redis 7 (jemalloc) a
 *   1536-dimension vector (6 144 bytes) takes 7 288 bytes with a 73-character key, 1.19 × the
 *   vector (see `memoryUsage`).
 * - **Batches**: `storeMany` / `retrieveMany` make one store call, one round trip per Redis node
 *   (per slot group on a cluster), in order.
 * - **Redis unreachable**: `retrieve` / `retrieveMany` answer misses (counted in
 *   `stats().errors` and `cache_errors_total{operation}`, logged at most once per 10 s), or throw
 *   `RedisUnavailableError` under `cache.onRedisUnavailable: 'throw'`; `store`, `storeMany` and
 *   `memoryUsage` always throw it. Errors name the public operation (`embeddingCache.store`).
 * - **Bad input** throws `InvalidArgumentError` naming the argument (`model`, `vector`,
 *   `items[3].vector`, `ttlMs`, ...) before any Redis call.
 *
 * @example
 * const cached = await embeddings.retrieveMany(texts, { model: 'text-embedding-3-small' });
 * const missing = texts.filter((_, i) => cached[i] === undefined);
 * if (missing.length > 0) {
 *   const computed = await openai.embeddings.create({ model: 'text-embedding-3-small', input: missing });
 *   await embeddings.storeMany(missing.map((text, i) => ({ text, vector: computed.data[i].embedding })), { model: 'text-embedding-3-small' });
 * }
 */
@Injectable()
export class EmbeddingCache {
  private readonly counts = { stored: 0, hits: 0, misses: 0, errors: 0 };
  private bytesPerVector?: number;
  private readonly failures: CacheFailures;

  constructor(
    private readonly core: CoordinationCore,
    @Inject(CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
    @Inject(CACHE_STORE) private readonly backend: CacheStore,
  ) {
    // Outages count in stats().errors and, through a meter of its own, in cache_errors_total{operation}.
    const meter = new CacheMeter(core.metrics);
    const counter = {
      error: (operation: string) => {
        this.counts.errors++;
        meter.error(operation);
      },
    };
    this.failures = new CacheFailures(counter, options.onRedisUnavailable, new Logger('Coordination:EmbeddingCache'));
  }

  /**
   * Stores the vector computed for `text` by `options.model`, replacing any, for `ttlMs`
   * (default `cache.embeddingTtlMs`, 7 days).
   *
   * @throws InvalidArgumentError naming `text`, `vector`, `options`, `model` or `ttlMs`, before any Redis call
   * @throws RedisUnavailableError when Redis is unreachable
   *
   * @example
   * await embeddings.store('How do I reset my password?', new Float32Array(vector), { model: 'text-embedding-3-small' });
   */
  async store(text: string, vector: EmbeddingVector, options: EmbeddingStoreOptions): Promise<void> {
    checkText(text, 'text');
    const value = vectorBytes(vector, 'vector');
    const { model, ttlMs } = this.storeOptions(options);
    const tenant = this.core.tenants.resolve(options.tenant, 'embeddingCache.store');
    await this.write([{ key: this.keyOf(tenant, model, text), value, ttlMs }], 'embeddingCache.store');
  }

  /**
   * Stores many vectors of one model in one store call (one round trip per Redis node). An
   * empty list stores nothing; of two items with the same text, the later wins.
   *
   * @throws InvalidArgumentError naming the bad item (`items[3].vector`) or option, before any Redis call: nothing is stored
   * @throws RedisUnavailableError when Redis is unreachable
   *
   * @example
   * await embeddings.storeMany(texts.map((text, i) => ({ text, vector: vectors[i] })), { model: 'text-embedding-3-small' });
   */
  async storeMany(items: readonly EmbeddingItem[], options: EmbeddingStoreOptions): Promise<void> {
    if (!Array.isArray(items)) throw new InvalidArgumentError('items', 'must be an array');
    const { model, ttlMs } = this.storeOptions(options);
    const tenant = this.core.tenants.resolve(options.tenant, 'embeddingCache.storeMany');
    const keys = items.map((item: unknown, i): string => {
      if (typeof item !== 'object' || item === null) throw new InvalidArgumentError(`items[${i}]`, 'must be an object { text, vector }');
      const { text } = item as EmbeddingItem;
      checkText(text, `items[${i}].text`);
      return this.keyOf(tenant, model, text);
    });
    const bytes = manyVectorBytes(items.map((item) => item.vector), (i) => `items[${i}].vector`);
    const entries = keys.map((key, i): CacheStoreEntry<Buffer> => ({ key, value: bytes[i], ttlMs }));
    if (entries.length > 0) await this.write(entries, 'embeddingCache.storeMany');
  }

  /**
   * The vector stored for `text` and `options.model`, or undefined: a new Float32Array each call.
   * While Redis is unreachable: undefined (counted and logged), unless `cache.onRedisUnavailable` is 'throw'.
   *
   * @throws InvalidArgumentError naming `text`, `options` or `model`, before any Redis call
   *
   * @example
   * const vector = await embeddings.retrieve(question, { model: 'text-embedding-3-small' }) ?? (await embed(question));
   */
  async retrieve(text: string, options: EmbeddingReadOptions): Promise<Float32Array | undefined> {
    checkText(text, 'text');
    const model = this.readOptions(options);
    const tenant = this.core.tenants.resolve(options.tenant, 'embeddingCache.retrieve');
    const [vector] = await this.read([this.keyOf(tenant, model, text)], 'embeddingCache.retrieve');
    return vector;
  }

  /**
   * The vectors of many texts of one model, in the order of `texts`, undefined for each miss; one
   * store call (one round trip per Redis node). While Redis is unreachable: all undefined (counted
   * and logged), unless `cache.onRedisUnavailable` is 'throw'.
   *
   * @throws InvalidArgumentError naming the bad text (`texts[2]`) or option, before any Redis call
   *
   * @example
   * const vectors = await embeddings.retrieveMany(chunks, { model: 'text-embedding-3-small' });
   * const misses = chunks.filter((_, i) => vectors[i] === undefined);
   */
  async retrieveMany(texts: readonly string[], options: EmbeddingReadOptions): Promise<Array<Float32Array | undefined>> {
    if (!Array.isArray(texts)) throw new InvalidArgumentError('texts', 'must be an array of strings');
    const model = this.readOptions(options);
    const tenant = this.core.tenants.resolve(options.tenant, 'embeddingCache.retrieveMany');
    const keys = texts.map((text: unknown, i) => this.keyOf(tenant, model, checkText(text, `texts[${i}]`)));
    return keys.length === 0 ? [] : this.read(keys, 'embeddingCache.retrieveMany');
  }

  /**
   * Bytes the vector of `text` takes in Redis (`MEMORY USAGE`: value, key and per-key overhead;
   * on the memory driver key and value bytes), or undefined when none is stored. Also kept as
   * `stats().bytesPerVector`. A diagnostic: it throws while Redis is unreachable.
   *
   * @throws RedisUnavailableError when Redis is unreachable
   *
   * @example
   * const bytes = await embeddings.memoryUsage(sample, { model: 'text-embedding-3-small' }); // ~7.3 KB for 1536 dimensions
   */
  async memoryUsage(text: string, options: EmbeddingReadOptions): Promise<number | undefined> {
    checkText(text, 'text');
    const model = this.readOptions(options);
    const tenant = this.core.tenants.resolve(options.tenant, 'embeddingCache.memoryUsage');
    let bytes: number | null;
    try {
      bytes = await this.backend.memoryUsage(this.keyOf(tenant, model, text));
    } catch (error) {
      this.failures.write(error, 'embeddingCache.memoryUsage');
    }
    if (bytes === null) return undefined;
    this.bytesPerVector = bytes;
    return bytes;
  }

  /**
   * Counters of this instance since it started, every tenant.
   *
   * @example
   * const { stored, hits, misses, errors, bytesPerVector } = embeddings.stats();
   */
  stats(): EmbeddingCacheStats {
    const stats: EmbeddingCacheStats = { ...this.counts };
    if (this.bytesPerVector !== undefined) stats.bytesPerVector = this.bytesPerVector;
    return stats;
  }

  private keyOf(tenant: string, model: string, text: string): string {
    return this.core.keys.key(tenant, CAPABILITY, embeddingId(model, text));
  }

  private readOptions(options: EmbeddingReadOptions): string {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'must be an object { model }', options);
    return checkModel(options.model);
  }

  private storeOptions(options: EmbeddingStoreOptions): { model: string; ttlMs: number } {
    const model = this.readOptions(options);
    const ttlMs = storeTtlMs(options.ttlMs ?? this.options.embeddingTtlMs);
    if (ttlMs > MAX_CACHE_TTL_MS) throw new InvalidArgumentError('ttlMs', `must be at most ${MAX_CACHE_TTL_MS} ms (365 days)`, options.ttlMs);
    return { model, ttlMs };
  }

  private async write(entries: ReadonlyArray<CacheStoreEntry<Buffer>>, operation: string): Promise<void> {
    try {
      await this.backend.setBuffers(entries);
    } catch (error) {
      this.failures.write(error, operation);
    }
    this.counts.stored += entries.length;
  }

  private async read(keys: readonly string[], operation: string): Promise<Array<Float32Array | undefined>> {
    let buffers: Array<Buffer | null>;
    try {
      buffers = await this.backend.getBuffers(keys);
    } catch (error) {
      this.failures.read(error, operation);
      this.counts.misses += keys.length;
      return keys.map(() => undefined);
    }
    return buffers.map((bytes) => {
      const vector = bytes === null ? undefined : vectorOf(bytes);
      if (vector) this.counts.hits++;
      else this.counts.misses++;
      return vector;
    });
  }
}
