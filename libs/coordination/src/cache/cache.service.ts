import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { CacheBus } from './cache-bus.js';
import { CacheFailures } from './cache-failures.js';
import { CacheL1 } from './cache-l1.js';
import { CacheKeys } from './cache-keys.js';
import { CacheLoader, type Report } from './cache-loader.js';
import { CacheReader, type CacheParts } from './cache-reader.js';
import { CacheMeter } from './cache-stats.js';
import { CACHE_STORE, type CacheStore } from './cache-store.interface.js';
import {
  checkEntries, checkId, checkIds, checkLoader, checkLoadMode, checkOptionalObject, checkRead, checkTags, checkValue, checkWrite, type CheckedWrite, type LoadMode,
} from './cache-validation.js';
import { CacheWriter, type WriteItem } from './cache-writer.js';
import { CACHE_OPTIONS, type ResolvedCacheOptions } from './cache.options.js';
import {
  CACHE_CLEAR, CACHE_DELETE, CACHE_GET, CACHE_GET_OR_SET, CACHE_INVALIDATE_PATTERN, CACHE_INVALIDATE_TAGS, CACHE_LOAD, CACHE_LOOKUP, CACHE_MGET, CACHE_MSET, CACHE_SET,
} from './cache.spans.js';
import type {
  CacheCallOptions, CacheEntryInput, CacheGetOptions, CacheLookup, CacheSetOptions, CacheStats, GetOrSetOptions, GetOrSetStateOptions,
} from './cache.types.js';

/** Shutdown waits at most this long (and at most `leaseTtlMs`) for background refreshes. */
const REFRESH_DRAIN_MS = 5_000;
const VALUE_ONLY: Report<unknown> = (_state, value) => value;
const WITH_STATE: Report<CacheLookup> = (state, value) => ({ state, value });

/**
 * A tenant-scoped cache shared by the fleet: Redis (L2) behind an optional in-process LRU (L1),
 * with `getOrSet` stampede protection, tags and early refresh. Values go through the module's
 * serializer (Dates, Maps, BigInt, Buffers intact; compressed above
 * `serializer.compressThresholdBytes`). `undefined` cannot be cached; `null` can.
 *
 * - **L1** (`cache.l1`): holds fresh entries only, for at most `l1.ttlMs`, and decodes a new copy
 *   per hit unless `l1.shareValues`. Every write and invalidation on any instance drops the
 *   entries it concerns from every L1 through one bus message; while the bus subscription is
 *   down the L1 is cleared and bypassed.
 * - **Stampede protection** (`getOrSet`): concurrent misses of a key call the loader once per
 *   fleet: once per process (the others await it), and across instances under a lease in Redis
 *   (`cache.leaseTtlMs`); waiters are woken by the bus, and after `cache.leaseWaitMs` take the
 *   lease over and call the loader themselves.
 * - **No lost writes**: a loader's value is stored only while its lease is held; `set`, `mset`,
 *   `delete`, `invalidatePattern` and `clear` drop the leases of the entries they touch, so a
 *   value loaded before them (a row read before it was updated) is returned to its callers but
 *   never stored over them.
 * - **Stale-while-revalidate** (`staleMs`, on `getOrSet`, `set` and `mset`): for `staleMs` after
 *   an entry's `ttlMs`, `getOrSet` serves the old value (`stats().staleServes`) and refreshes it
 *   once per fleet, in the background, under the lease. `get`, `has` and `mget` never serve
 *   stale values.
 * - **XFetch** (`cache.xfetchBeta`): a fresh L2 hit of `getOrSet` refreshes early, in the
 *   background, with probability rising as expiry nears and with the loader's duration
 *   (`now - loaderMs * beta * ln(random()) >= freshUntil`), so a hot key is reloaded by one caller
 *   before it expires instead of missing for all. L1 hits never trigger it.
 * - **Tags** are versioned: an entry stores the version of each of its tags' counters;
 *   `invalidateTags` increments them (one INCR per tag plus one bus message), so every entry
 *   carrying them reads as a miss on every instance. Reading a tagged entry costs one more round
 *   trip (its counters); an untagged one costs none. Invalidated entries stay in Redis until
 *   their TTL.
 * - **Redis unreachable**: reads (`get`, `has`, `mget`, `getOrSet`) answer from L1, as misses or
 *   by calling the loader (still coalesced in process; without a lease its value is returned,
 *   not stored), count the failure in
 *   `stats().errors` and `cache_errors_total{operation}` and log it (at most once per 10 s); with
 *   `cache.onRedisUnavailable: 'throw'` they throw RedisUnavailableError. Writes and
 *   invalidations (`set`, `mset`, `delete`, `invalidateTags`, `invalidatePattern`, `clear`)
 *   always throw it (`delete` and the invalidations still drop this instance's L1): a lost
 *   invalidation must not be silent. A failed write after a loader is counted and logged, never thrown.
 * - **Bad input** throws InvalidKeyError / InvalidArgumentError naming the argument, and
 *   TenantInvalidError / TenantRequiredError, before any Redis call.
 *
 * @example
 * const crew = await cache.getOrSet(`crew:${id}`, () => crews.load(id), { ttlMs: 60_000, tags: [`crew:${id}`], staleMs: 10_000 });
 * await cache.invalidateTags([`crew:${id}`]); // after editing the crew, on every instance
 */
@Injectable()
export class CacheService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('Coordination:Cache');
  private readonly keys: CacheKeys;
  private readonly meter: CacheMeter;
  private readonly reader: CacheReader;
  private readonly writer: CacheWriter;
  private readonly loader: CacheLoader;
  private readonly failures: CacheFailures;
  private readonly defaults: CheckedWrite;

  constructor(
    private readonly core: CoordinationCore,
    @Inject(CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
    @Inject(CACHE_STORE) store: CacheStore,
    private readonly l1: CacheL1,
    private readonly bus: CacheBus,
  ) {
    this.keys = new CacheKeys(core.keys);
    this.meter = new CacheMeter(core.metrics);
    this.failures = new CacheFailures(this.meter, options.onRedisUnavailable, this.logger);
    const parts: CacheParts = {
      store, l1, bus, serializer: core.serializer, clock: core.clock, meter: this.meter, failures: this.failures, options, logger: this.logger,
    };
    this.reader = new CacheReader(parts);
    this.writer = new CacheWriter(parts);
    this.loader = new CacheLoader(parts, this.reader, this.writer, this.keys, core.instanceId);
    this.defaults = checkWrite(undefined, options);
  }

  /**
   * Subscribes to the fleet bus and waits (at most `connection.connectTimeoutMs`) until the
   * subscription is confirmed, so the L1, bypassed until then, works from the first call. While
   * Redis is down at boot it does not wait: the L1 comes in once the subscription is confirmed.
   */
  async onModuleInit(): Promise<void> {
    this.bus.start();
    if (this.core.connection?.health().status === 'down') return;
    await this.bus.ready(this.core.options.connection.connectTimeoutMs);
  }

  /** Waits (bounded) for background refreshes, then leaves the bus; runs before the connection closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.loader.close(Math.min(REFRESH_DRAIN_MS, this.options.leaseTtlMs));
    this.bus.close();
  }

  /**
   * The value of `key`, or undefined when absent, expired or invalidated.
   *
   * @example
   * const plan = await cache.get<Plan>('plan');
   */
  get<T = unknown>(key: string, options?: CacheGetOptions): Promise<T | undefined> {
    let tenant: string;
    let useL1: boolean;
    // Not async (one promise less on the hot path); bad input still rejects, never throws.
    try {
      checkId(key, 'key');
      useL1 = options === undefined ? this.defaults.l1 : checkRead(options, this.options);
      tenant = this.core.tenants.resolve(options?.tenant, 'cache.get');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.core.telemetry.tracer.trace(CACHE_GET, tenant, key, () => this.reader.get(tenant, this.keys.entry(tenant, key), useL1, 'cache.get')) as Promise<T | undefined>;
  }

  /**
   * Whether `key` holds a fresh value (nothing is decoded).
   *
   * @example
   * if (!(await cache.has('report:q3'))) await queue.add('build-report', { quarter: 'q3' });
   */
  async has(key: string, options?: CacheGetOptions): Promise<boolean> {
    checkId(key, 'key');
    const useL1 = options === undefined ? this.defaults.l1 : checkRead(options, this.options);
    const tenant = this.core.tenants.resolve(options?.tenant, 'cache.has');
    return this.reader.has(this.keys.entry(tenant, key), useL1, 'cache.has');
  }

  /**
   * What `key` holds, telling a fresh value (`hit`) from one past its `ttlMs` that is still within
   * the `staleMs` it was written with (`stale`, counted as a stale serve): for callers that serve
   * stale values themselves, as CacheInterceptor does (`X-Cache: STALE`).
   *
   * @example
   * const { state, value } = await cache.lookup<Report>('report:q3');
   * if (state === 'stale') void cache.getOrSet('report:q3', build, { staleMs: 60_000 }); // refresh it
   */
  async lookup<T = unknown>(key: string, options?: CacheGetOptions): Promise<CacheLookup<T>> {
    checkId(key, 'key');
    const useL1 = options === undefined ? this.defaults.l1 : checkRead(options, this.options);
    const tenant = this.core.tenants.resolve(options?.tenant, 'cache.lookup');
    return this.core.telemetry.tracer.trace(CACHE_LOOKUP, tenant, key, () => this.reader.lookupState(tenant, this.keys.entry(tenant, key), useL1, 'cache.lookup')) as Promise<CacheLookup<T>>;
  }

  /**
   * The values of `keys`, in order (undefined for each miss): L1 first, the rest in one round
   * trip per Redis node, plus one for the tags of the tagged entries.
   *
   * @example
   * const [a, b] = await cache.mget<User>(['user:1', 'user:2']);
   */
  async mget<T = unknown>(keys: readonly string[], options?: CacheGetOptions): Promise<Array<T | undefined>> {
    checkIds(keys, 'keys');
    const useL1 = options === undefined ? this.defaults.l1 : checkRead(options, this.options);
    const tenant = this.core.tenants.resolve(options?.tenant, 'cache.mget');
    if (keys.length === 0) return [];
    const read = () => this.reader.getMany(tenant, keys.map((key) => this.keys.entry(tenant, key)), useL1, 'cache.mget');
    return this.core.telemetry.tracer.trace(CACHE_MGET, tenant, keys.length === 1 ? keys[0] : undefined, read, keys.length) as Promise<Array<T | undefined>>;
  }

  /**
   * Stores `value` under `key` for `ttlMs` (default `cache.defaultTtlMs`) with `tags`, kept in
   * Redis `staleMs` longer (default `cache.staleMs`) for `getOrSet` to serve stale while it
   * refreshes, and drops the key from every instance's L1. A `getOrSet` loader of the key
   * running meanwhile does not overwrite it.
   *
   * @throws RedisUnavailableError when Redis is unreachable; SerializationError for a value the serializer cannot store
   * @example
   * await cache.set('crew:7', crew, { ttlMs: 60_000, tags: ['crews', 'company:acme'] });
   */
  async set<T>(key: string, value: T, options?: CacheSetOptions): Promise<void> {
    checkId(key, 'key');
    checkValue(value, 'value');
    const o = options === undefined ? this.defaults : checkWrite(options, this.options);
    const tenant = this.core.tenants.resolve(options?.tenant, 'cache.set');
    const item = this.itemOf(tenant, key, value, o);
    await this.core.telemetry.tracer.trace(CACHE_SET, tenant, key, () => this.writer.write([item], o.l1, 'cache.set'));
  }

  /**
   * `set` of many entries in one round trip per Redis node (plus one for their tags' versions).
   *
   * @example
   * await cache.mset([{ key: 'user:1', value: u1 }, { key: 'user:2', value: u2, ttlMs: 5_000 }]);
   */
  async mset(entries: readonly CacheEntryInput[], options?: CacheCallOptions & { l1?: boolean }): Promise<void> {
    const checked = checkEntries(entries, this.options);
    const useL1 = options === undefined ? this.defaults.l1 : checkRead(options, this.options);
    const tenant = this.core.tenants.resolve(options?.tenant, 'cache.mset');
    if (entries.length === 0) return;
    const items = entries.map((entry, i) => this.itemOf(tenant, entry.key, entry.value, checked[i]));
    await this.core.telemetry.tracer.trace(CACHE_MSET, tenant, entries.length === 1 ? entries[0].key : undefined, () => this.writer.write(items, useL1, 'cache.mset'), entries.length);
  }

  /**
   * Deletes one key or several, on every instance (L1 included); resolves with how many existed in
   * Redis. A `getOrSet` loader of one of them running meanwhile does not store what it loaded.
   *
   * @example
   * await cache.delete(['user:1', 'user:2']);
   */
  async delete(keyOrKeys: string | readonly string[], options?: CacheCallOptions): Promise<number> {
    if (Array.isArray(keyOrKeys)) checkIds(keyOrKeys, 'keys');
    else checkId(keyOrKeys, 'key');
    const keys: readonly string[] = Array.isArray(keyOrKeys) ? keyOrKeys : [keyOrKeys as string];
    checkOptionalObject(options, 'options');
    const tenant = this.core.tenants.resolve(options?.tenant, 'cache.delete');
    if (keys.length === 0) return 0;
    const remove = () => this.writer.delete(tenant, keys.map((key) => this.keys.entry(tenant, key)), keys.map((key) => this.keys.lease(tenant, key)));
    return this.core.telemetry.tracer.trace(CACHE_DELETE, tenant, keys.length === 1 ? keys[0] : undefined, remove, keys.length);
  }

  /**
   * The value of `key`, or what `loader` returns, stored for `ttlMs` with `tags`. Concurrent
   * misses call the loader once across the fleet; see the class notes for `staleMs`, XFetch and
   * what happens while Redis is unreachable.
   *
   * - A loader that throws stores nothing, and its error goes to every caller waiting for it in
   *   this process; one that returns undefined stores nothing, and undefined goes to them. Callers
   *   waiting for it on other instances call their own loaders at once, in parallel.
   * - A caller that arrives while the key loads in this process shares that load, unless the key
   *   was written, deleted or invalidated (here or on another instance) since the load started:
   *   that load may have read its data before, so the caller starts a new one. Callers that were
   *   already waiting get the load's value (it is not stored, see the class notes).
   *
   * @example
   * const config = await cache.getOrSet(`crew-config:${id}`, () => db.crewConfig(id), { ttlMs: 300_000, staleMs: 60_000, tags: [`crew:${id}`] });
   */
  getOrSet<T>(key: string, loader: () => T | Promise<T>, options?: GetOrSetOptions): Promise<T> {
    return this.resolve(key, loader, options, 'cache.getOrSet', VALUE_ONLY) as Promise<T>;
  }

  /**
   * `getOrSet`, telling how the value was obtained: `hit` (fresh, from L1 or Redis), `stale`
   * (served from the stale window while `loader` refreshes it in the background) or `miss`
   * (loaded, by `loader` or by a load it waited for here or on another instance). The read is
   * counted once in `stats()`. `xfetch: false` keeps fresh hits from refreshing early in the
   * background (for loaders that must not run unless a caller waits, as an HTTP handler);
   * `refresh: true` reloads the value even when it is cached (see GetOrSetStateOptions).
   *
   * @example
   * const { state, value } = await cache.getOrSetState(key, () => render(page), { ttlMs: 30_000, xfetch: false });
   * response.setHeader('X-Cache', state.toUpperCase());
   */
  getOrSetState<T>(key: string, loader: () => T | Promise<T>, options?: GetOrSetStateOptions): Promise<CacheLookup<T>> {
    return this.resolve(key, loader, options, 'cache.getOrSetState', WITH_STATE) as Promise<CacheLookup<T>>;
  }

  /**
   * Invalidates every entry carrying one of `tags`, on every instance: one INCR per tag and one
   * bus message; the entries read as misses from now on and leave Redis at their TTL.
   *
   * @example
   * await cache.invalidateTags([`crew:${id}`]);
   */
  async invalidateTags(tags: readonly string[], options?: CacheCallOptions): Promise<void> {
    const checked = checkTags(tags, 'tags', Number.MAX_SAFE_INTEGER);
    checkOptionalObject(options, 'options');
    const tenant = this.core.tenants.resolve(options?.tenant, 'cache.invalidateTags');
    if (checked.length === 0) return;
    const invalidate = () => this.writer.invalidate(tenant, 'tags', this.keys.tags(tenant, checked), 'cache.invalidateTags');
    await this.core.telemetry.tracer.trace(CACHE_INVALIDATE_TAGS, tenant, checked.length === 1 ? checked[0] : undefined, invalidate, checked.length);
  }

  /**
   * Deletes the tenant's entries whose key matches `pattern`, where `*` matches any run of
   * characters and every other character (`?`, `[`, `\`, ...) only itself; SCAN on every master,
   * never outside the tenant's namespace. Resolves with how many keys were deleted (a lease of
   * a matching key taken by a loader at that moment is deleted and counted too).
   *
   * @example
   * await cache.invalidatePattern('user:42:*');
   */
  async invalidatePattern(pattern: string, options?: CacheCallOptions): Promise<number> {
    checkId(pattern, 'pattern');
    checkOptionalObject(options, 'options');
    const tenant = this.core.tenants.resolve(options?.tenant, 'cache.invalidatePattern');
    const invalidate = () => this.writer.invalidate(tenant, 'pattern', [this.keys.pattern(tenant, pattern)], 'cache.invalidatePattern');
    return this.core.telemetry.tracer.trace(CACHE_INVALIDATE_PATTERN, tenant, pattern, invalidate);
  }

  /**
   * Deletes every entry of the tenant (SCAN on every master); resolves with how many keys were
   * deleted. Tag counters stay (they only ever grow); embeddings are not entries of this cache.
   *
   * @example
   * await cache.clear({ tenant: 'acme' });
   */
  async clear(options?: CacheCallOptions): Promise<number> {
    checkOptionalObject(options, 'options');
    const tenant = this.core.tenants.resolve(options?.tenant, 'cache.clear');
    return this.core.telemetry.tracer.trace(CACHE_CLEAR, tenant, undefined, () => this.writer.invalidate(tenant, 'clear', [this.keys.pattern(tenant)], 'cache.clear'));
  }

  /**
   * Counters of this instance since it started, every tenant together.
   *
   * @example
   * const { hitRatio, l1Entries } = cache.stats();
   */
  stats(): CacheStats {
    return this.meter.snapshot(this.l1);
  }

  /** getOrSet and getOrSetState: checks the arguments (a rejection, never a throw), then reads or loads. */
  private resolve<R>(key: string, loader: () => unknown, options: GetOrSetStateOptions | undefined, operation: string, report: Report<R>): Promise<R> {
    let tenant: string;
    let o: CheckedWrite;
    let mode: LoadMode;
    try {
      checkId(key, 'key');
      checkLoader(loader);
      o = options === undefined ? this.defaults : checkWrite(options, this.options);
      mode = checkLoadMode(options);
      tenant = this.core.tenants.resolve(options?.tenant, operation);
    } catch (error) {
      return Promise.reject(error);
    }
    const { tracer } = this.core.telemetry;
    if (!tracer.enabled) return this.loader.getOrSet(tenant, key, loader, o, mode, report);
    // Traced: the state goes on the span (then to `report`), and each loader call gets a child span.
    const load = () => tracer.trace(CACHE_LOAD, tenant, key, async () => loader());
    return tracer.trace(CACHE_GET_OR_SET, tenant, key, () => this.loader.getOrSet(tenant, key, load, o, mode, WITH_STATE)).then((found) => report(found.state, found.value));
  }

  private itemOf(tenant: string, key: string, value: unknown, o: CheckedWrite): WriteItem {
    const body = this.core.serializer.encode(value);
    const { ttlMs, staleMs, tags } = o;
    return { tenant, fullKey: this.keys.entry(tenant, key), leaseKey: this.keys.lease(tenant, key), body, value, ttlMs, staleMs, tagKeys: this.keys.tags(tenant, tags) };
  }
}
