import { EventEmitter } from 'node:events';
import { assertTenantId } from '../keys/key-builder.js';
import { checkCacheWriteOptions, checkOptionNames, definedOnly } from './cache-decorator-options.js';
import type { CacheService } from './cache.service.js';
import type { CacheCallOptions, CacheGetOptions } from './cache.types.js';

/** Options of {@link CoordinationKeyvStore}. */
export interface CoordinationKeyvStoreOptions {
  /** Keep every entry in this tenant's namespace; default: the tenant in context at each call (as CacheService does). */
  tenant?: string;
  /**
   * Lifetime of an entry Keyv writes without a TTL (neither its call's nor the Keyv instance's
   * `ttl`); default `cache.defaultTtlMs`: the cache keeps nothing forever.
   */
  ttlMs?: number;
  /** Use the in-process L1 of CacheService; default `cache.l1.enabled`. */
  l1?: boolean;
}

/** One entry of Keyv's `setMany`. */
export interface KeyvStoreEntry {
  key: string;
  value: unknown;
  ttl?: number;
}

/**
 * A Keyv 5 storage adapter (KeyvStoreAdapter) over {@link CacheService}, so an application on
 * `@nestjs/cache-manager` (cache-manager 7 + Keyv) keeps its `CACHE_MANAGER` code and its
 * `CacheInterceptor` and gets this library's cache underneath: tenant-scoped keys (the tenant in
 * context, or a fixed `tenant`), the L1 kept coherent across instances, and Redis or the memory
 * driver as CoordinationModule is configured. Keyv hands the adapter its already serialized
 * entries (value + expiry), which are stored as they are.
 *
 * Keyv's namespace (default `keyv`) prefixes every key, so `clear()` removes that namespace's
 * entries of the tenant (`invalidatePattern('<namespace>:*')`), or the whole tenant cache
 * without a namespace. Keyv catches the adapter's errors (a failed read is a miss; a failed
 * write emits `error` on the Keyv instance). keyv is not a dependency of this library: the
 * adapter implements its interface structurally.
 *
 * @example
 * CacheModule.registerAsync({
 *   isGlobal: true,
 *   inject: [CacheService],
 *   useFactory: (cache: CacheService) => ({ stores: [new Keyv({ store: new CoordinationKeyvStore(cache) })] }),
 * });
 */
export class CoordinationKeyvStore extends EventEmitter {
  /** Set by Keyv to its namespace. */
  namespace?: string;
  /** Read by Keyv: what this adapter is. */
  readonly opts: Readonly<{ dialect: 'nest-coordination' } & CoordinationKeyvStoreOptions>;
  /** Options of reads and of `mset` (tenant, l1); of deletes and invalidations (tenant). */
  private readonly read: CacheGetOptions;
  private readonly scope: CacheCallOptions;
  private readonly ttlMs?: number;

  constructor(private readonly cache: CacheService, options: CoordinationKeyvStoreOptions = {}) {
    super();
    checkOptionNames(options, ['tenant', 'ttlMs', 'l1'], 'CoordinationKeyvStore');
    if (options.tenant !== undefined) assertTenantId(options.tenant);
    checkCacheWriteOptions({ ttlMs: options.ttlMs, l1: options.l1 });
    this.opts = Object.freeze({ dialect: 'nest-coordination', ...options });
    this.ttlMs = options.ttlMs;
    this.read = definedOnly({ tenant: options.tenant, l1: options.l1 });
    this.scope = definedOnly({ tenant: options.tenant });
  }

  async get<Value = unknown>(key: string): Promise<Value | undefined> {
    return this.cache.get<Value>(key, this.read);
  }

  async getMany<Value = unknown>(keys: string[]): Promise<Array<Value | undefined>> {
    return this.cache.mget<Value>(keys, this.read);
  }

  async has(key: string): Promise<boolean> {
    return this.cache.has(key, this.read);
  }

  /** `ttl` in ms, as Keyv passes it; none: the `ttlMs` option. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    await this.cache.set(key, value, definedOnly({ ...this.read, ttlMs: this.ttlOf(ttl) }));
    return true;
  }

  async setMany(entries: KeyvStoreEntry[]): Promise<void> {
    await this.cache.mset(entries.map(({ key, value, ttl }) => ({ key, value, ...definedOnly({ ttlMs: this.ttlOf(ttl) }) })), this.read);
  }

  /** Whether the key existed. */
  async delete(key: string): Promise<boolean> {
    return (await this.cache.delete(key, this.scope)) > 0;
  }

  /** Whether any of the keys existed. */
  async deleteMany(keys: string[]): Promise<boolean> {
    return (await this.cache.delete(keys, this.scope)) > 0;
  }

  /** Removes this namespace's entries of the tenant (all of the tenant's cache without a namespace). */
  async clear(): Promise<void> {
    if (this.namespace) await this.cache.invalidatePattern(`${this.namespace}:*`, this.scope);
    else await this.cache.clear(this.scope);
  }

  /** Nothing to close: the connection belongs to CoordinationModule. */
  async disconnect(): Promise<void> {}

  private ttlOf(ttl: number | undefined): number | undefined {
    return typeof ttl === 'number' && ttl > 0 ? ttl : this.ttlMs;
  }
}
