import { EventEmitter } from 'node:events';
import { encodeKeyPart, fitKeyLength } from '../core/key-template.js';
import { InvalidArgumentError, InvalidKeyError, TenantRequiredError } from '../errors/coordination.error.js';
import { assertTenantId } from '../keys/key-builder.js';
import { checkCacheWriteOptions, checkOptionNames, definedOnly } from './cache-decorator-options.js';
import type { CacheService } from './cache.service.js';
import type { CacheCallOptions, CacheGetOptions } from './cache.types.js';

/** Options of {@link CoordinationKeyvStore}. */
export interface CoordinationKeyvStoreOptions {
  /**
   * The tenant of every call:
   * - absent (default): the tenant in context at each call, as CacheService resolves it; outside
   *   any tenant that is the shared namespace, unless `tenancy.required` (then TenantRequiredError).
   * - a string: always this tenant.
   * - a function, called at each call: its tenant; when it returns undefined the call is refused
   *   with TenantRequiredError, never run in the shared namespace. `() => core.tenants.current()`
   *   (CoordinationCore injected) is the context's tenant without the shared fallback: the setting
   *   for multi-tenant applications (see the class notes).
   */
  tenant?: string | (() => string | undefined);
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
 * `CacheInterceptor` and gets this library's cache underneath: tenant-scoped keys, the L1 kept
 * coherent across instances, and Redis or the memory driver as CoordinationModule is configured.
 * Keyv hands the adapter its already serialized entries (value + expiry), which are stored as
 * they are.
 *
 * **Keys.** The adapter prefixes every key with its namespace itself (as @keyv/redis does), the
 * namespace encoded (encodeKeyPart: no `:` or `*` left in it): `<namespace>:<key>`, where the key
 * is what Keyv passes (Keyv adds its own `<namespace>:` unless `useKeyPrefix: false`, so the
 * default Keyv stores `keyv:keyv:<key>`). Namespaces never share an entry, and `clear()`
 * removes exactly its namespace's entries of the tenant (`invalidatePattern('<namespace>:*')`),
 * with or without Keyv's prefix. Without a namespace, keys are used as they are and `clear()`
 * clears the tenant's whole cache. Keys over MAX_ID_LENGTH characters are hashed (fitKeyLength).
 *
 * **Tenants, and the supported setups.** @nestjs/cache-manager's interceptor reads the cache in
 * its `intercept()`, before the handler, and writes inside it. Its entries are in the right
 * tenant when the tenant is in context by then:
 * - the interceptor on controllers or routes (`@UseInterceptors(CacheInterceptor)`): it runs
 *   inside the library's global TenantInterceptor, so with any tenancy setting;
 * - a global interceptor (`APP_INTERCEPTOR`) with the tenant from a header (`tenancy.header`): the
 *   library's TenantMiddleware sets the context before any interceptor.
 * A global interceptor with the tenant from the authenticated user (`tenancy.userProperty` or a
 * `resolver` reading what guards set) reads before the tenant is known. With the default
 * `tenant`, that read goes to the shared namespace while an anonymous request writes there: one
 * response served to every tenant. Give such applications `tenant: () => core.tenants.current()`:
 * those reads and anonymous writes are then refused (TenantRequiredError: Keyv reads it as a
 * miss, and a refused write stores nothing), so nothing leaks, though such a setup never hits:
 * move the interceptor to the controllers, or use this library's CacheInterceptor, which
 * resolves the tenant itself.
 *
 * Keyv catches the adapter's errors (a failed read is a miss; a failed write emits `error` on the
 * Keyv instance). keyv is not a dependency of this library: the adapter implements its
 * interface structurally.
 *
 * @example
 * CacheModule.registerAsync({
 *   isGlobal: true,
 *   inject: [CacheService, CoordinationCore],
 *   useFactory: (cache: CacheService, core: CoordinationCore) => ({
 *     stores: [new Keyv({ store: new CoordinationKeyvStore(cache, { tenant: () => core.tenants.current() }) })],
 *   }),
 * });
 */
export class CoordinationKeyvStore extends EventEmitter {
  /** Read by Keyv: what this adapter is. */
  readonly opts: Readonly<{ dialect: 'nest-coordination' } & CoordinationKeyvStoreOptions>;
  /** Options of reads and of `mset` (tenant, l1); of deletes and invalidations (tenant); undefined with a tenant function. */
  private readonly read?: CacheGetOptions;
  private readonly scope?: CacheCallOptions;
  private readonly tenantOf?: () => string | undefined;
  private readonly l1?: boolean;
  private readonly ttlMs?: number;
  private currentNamespace?: string;
  /** `<encoded namespace>:`, or '' without a namespace. */
  private prefix = '';

  constructor(private readonly cache: CacheService, options: CoordinationKeyvStoreOptions = {}) {
    super();
    checkOptionNames(options, ['tenant', 'ttlMs', 'l1'], 'CoordinationKeyvStore');
    const { tenant } = options;
    if (typeof tenant === 'function') this.tenantOf = tenant;
    else if (tenant !== undefined) assertTenantId(tenant);
    checkCacheWriteOptions({ ttlMs: options.ttlMs, l1: options.l1 });
    this.opts = Object.freeze({ dialect: 'nest-coordination', ...options });
    this.ttlMs = options.ttlMs;
    this.l1 = options.l1;
    if (this.tenantOf === undefined) {
      this.read = definedOnly({ tenant: tenant as string | undefined, l1: options.l1 });
      this.scope = definedOnly({ tenant: tenant as string | undefined });
    }
  }

  /** Set by Keyv to its namespace: the prefix of every key of this adapter. */
  get namespace(): string | undefined {
    return this.currentNamespace;
  }

  set namespace(namespace: string | undefined) {
    if (namespace !== undefined && typeof namespace !== 'string') throw new InvalidArgumentError('namespace', 'must be a string', namespace);
    this.currentNamespace = namespace === '' ? undefined : namespace;
    this.prefix = this.currentNamespace === undefined ? '' : `${encodeKeyPart(this.currentNamespace)}:`;
  }

  async get<Value = unknown>(key: string): Promise<Value | undefined> {
    return this.cache.get<Value>(this.keyOf(key), this.readOptions('get'));
  }

  async getMany<Value = unknown>(keys: string[]): Promise<Array<Value | undefined>> {
    return this.cache.mget<Value>(this.keysOf(keys), this.readOptions('getMany'));
  }

  async has(key: string): Promise<boolean> {
    return this.cache.has(this.keyOf(key), this.readOptions('has'));
  }

  /** `ttl` in ms, as Keyv passes it; none: the `ttlMs` option. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    await this.cache.set(this.keyOf(key), value, definedOnly({ ...this.readOptions('set'), ttlMs: this.ttlOf(ttl) }));
    return true;
  }

  async setMany(entries: KeyvStoreEntry[]): Promise<void> {
    const options = this.readOptions('setMany');
    if (!Array.isArray(entries)) throw new InvalidArgumentError('entries', 'must be an array of { key, value, ttl? }', entries);
    await this.cache.mset(entries.map((entry, i) => {
      if (typeof entry !== 'object' || entry === null) throw new InvalidArgumentError(`entries[${i}]`, 'must be an object { key, value, ttl? }', entry);
      return { key: this.keyOf(entry.key), value: entry.value, ...definedOnly({ ttlMs: this.ttlOf(entry.ttl) }) };
    }), options);
  }

  /** Whether the key existed. */
  async delete(key: string): Promise<boolean> {
    return (await this.cache.delete(this.keyOf(key), this.scopeOptions('delete'))) > 0;
  }

  /** Whether any of the keys existed. */
  async deleteMany(keys: string[]): Promise<boolean> {
    return (await this.cache.delete(this.keysOf(keys), this.scopeOptions('deleteMany'))) > 0;
  }

  /** Removes this namespace's entries of the tenant (all of the tenant's cache without a namespace). */
  async clear(): Promise<void> {
    const scope = this.scopeOptions('clear');
    if (this.prefix !== '') await this.cache.invalidatePattern(`${this.prefix}*`, scope);
    else await this.cache.clear(scope);
  }

  /** Nothing to close: the connection belongs to CoordinationModule. */
  async disconnect(): Promise<void> {}

  private ttlOf(ttl: number | undefined): number | undefined {
    return typeof ttl === 'number' && ttl > 0 ? ttl : this.ttlMs;
  }

  /** The CacheService key of a Keyv key: namespaced, hashed past MAX_ID_LENGTH. */
  private keyOf(key: string): string {
    if (typeof key !== 'string' || key === '') throw new InvalidKeyError('key', 'must be a non-empty string');
    return fitKeyLength(this.prefix + key);
  }

  private keysOf(keys: string[]): string[] {
    if (!Array.isArray(keys)) throw new InvalidArgumentError('keys', 'must be an array of strings', keys);
    return keys.map((key) => this.keyOf(key));
  }

  private readOptions(operation: string): CacheGetOptions | undefined {
    return this.read ?? definedOnly({ tenant: this.tenantFor(operation), l1: this.l1 });
  }

  private scopeOptions(operation: string): CacheCallOptions | undefined {
    return this.scope ?? { tenant: this.tenantFor(operation) };
  }

  /** The tenant function's tenant, validated; refused (never the shared namespace) when it returns none. */
  private tenantFor(operation: string): string {
    const tenant = this.tenantOf!();
    if (tenant === undefined) {
      throw new TenantRequiredError(
        `CoordinationKeyvStore.${operation}`,
        'its tenant function returned none (outside a tenant context: see the supported setups of CoordinationKeyvStore)',
      );
    }
    assertTenantId(tenant);
    return tenant;
  }
}
