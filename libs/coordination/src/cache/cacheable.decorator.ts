import { checkKeyTemplate, checkKeyTemplates, fitKeyLength, resolveKeyTemplate, resolveKeyTemplates, type KeyTemplate, type KeyTemplates } from '../core/key-template.js';
import { ServiceSlot, serviceMethodDecorator } from '../core/method-decorators.js';
import { checkCacheWriteOptions, checkOptionNames, definedOnly } from './cache-decorator-options.js';
import { CacheService } from './cache.service.js';
import type { GetOrSetOptions } from './cache.types.js';

export const CACHEABLE_METADATA = 'coordination:cacheable';
export const CACHE_PUT_METADATA = 'coordination:cache-put';
export const CACHE_EVICT_METADATA = 'coordination:cache-evict';

/**
 * The property Nest injects the instance's CacheService into, for @Cacheable, @CachePut and
 * @CacheEvict (CacheDecoratorsExplorer checks it at boot).
 */
export const CACHE_SERVICE_SLOT = new ServiceSlot(CacheService);

/** Options of {@link Cacheable}. */
export interface CacheableOptions {
  /** The cache key: a template over the arguments (`'crew:{0}'`, `'order:{1.id}'`) or a function of them. */
  key: KeyTemplate;
  /** Lifetime of the entry; default `cache.defaultTtlMs`. */
  ttlMs?: number;
  /** Tags of the entry (templates over the arguments, or a function returning them): `@CacheEvict({ tags })` removes it. */
  tags?: KeyTemplates;
  /** Stale-while-revalidate window after `ttlMs`; default `cache.staleMs`. */
  staleMs?: number;
  /** Use the in-process L1; default `cache.l1.enabled`. */
  l1?: boolean;
}

/** Options of {@link CachePut}. */
export interface CachePutOptions {
  /** The cache key, as for @Cacheable. */
  key: KeyTemplate;
  ttlMs?: number;
  tags?: KeyTemplates;
}

/** What @Cacheable and @CachePut write on the method (read by CacheDecoratorsExplorer). */
export interface CacheDecoratorMetadata<O> {
  readonly options: O;
}

/**
 * Caches the method's result under a key computed from its arguments, through
 * `CacheService.getOrSet` of the tenant in context: a hit returns the cached value without
 * calling the method; concurrent misses of one key call it once across the fleet; `staleMs`
 * serves the old value while one caller refreshes it. A result of `undefined` is returned, not
 * cached. The method becomes async.
 *
 * Like @WithLock, the decorator keeps every metadata entry of the method (route, guards,
 * `@SetMetadata`, custom Reflect metadata) whichever side of it they sit, and Nest
 * property-injects the CacheService of the module that builds the instance: a `useFactory` /
 * `useValue` provider, or a class whose module cannot see a non-global CoordinationModule, fails
 * the boot naming the class (CacheDecoratorsExplorer); an instance created with `new` fails on
 * the call. Options are checked when the class is defined (InvalidArgumentError naming the
 * option); a placeholder that resolves to nothing fails the call with InvalidArgumentError
 * naming it (`key`, `tags[1]`), before the cache or the method is touched.
 *
 * Keys and tags: each placeholder value is encoded (`'doc:{0}:{1}'` of `('alice', 'secret:x')`
 * is `doc:alice:secret%3Ax`, see KeyTemplate), so distinct arguments never share an entry; a
 * key or tag longer than MAX_ID_LENGTH characters is hashed (fitKeyLength: its head, then a
 * hash), so the method still runs and is cached, and `@CacheEvict` with the same templates
 * reaches it. Code that calls CacheService directly for the same entries builds the same key
 * only for values that need no encoding (letters, digits, `- . _ ~`, non-ASCII text).
 *
 * @example
 * @Cacheable({ key: 'crew-config:{0}', ttlMs: 60_000, tags: ['crew:{0}', 'company:{1}'], staleMs: 10_000 })
 * async crewConfig(crewId: string, companyId: string): Promise<CrewConfig> { ... }
 *
 * @example
 * @Cacheable({ key: (query: Query) => `report:${query.hash()}`, tags: (query: Query) => query.tables })
 * async report(query: Query) { ... }
 */
export function Cacheable(options: CacheableOptions): MethodDecorator {
  checkOptionNames(options, ['key', 'ttlMs', 'tags', 'staleMs', 'l1'], '@Cacheable()');
  checkKeyTemplate(options.key, 'key');
  if (options.tags !== undefined) checkKeyTemplates(options.tags, 'tags');
  checkCacheWriteOptions({ ttlMs: options.ttlMs, staleMs: options.staleMs, l1: options.l1 });
  const { key, tags } = options;
  const base: GetOrSetOptions = definedOnly({ ttlMs: options.ttlMs, staleMs: options.staleMs, l1: options.l1 });
  return serviceMethodDecorator({
    decorator: '@Cacheable()',
    slot: CACHE_SERVICE_SLOT,
    metadataKey: CACHEABLE_METADATA,
    metadata: { options } satisfies CacheDecoratorMetadata<CacheableOptions>,
    alternative: 'CacheService.getOrSet()',
    run: (cache, call, args) => {
      const resolved = resolveCacheKey(key, args);
      return cache.getOrSet(resolved, call, tags === undefined ? base : { ...base, tags: resolveCacheKeys(tags, args, 'tags') });
    },
  });
}

/**
 * Always runs the method, then writes its result to the cache under the key computed from the
 * arguments (`CacheService.set`), e.g. on the method that updates what a @Cacheable method
 * reads. A result of `undefined` is not written; an error of the method writes nothing. See
 * @Cacheable for metadata, injection and validation.
 *
 * @example
 * @CachePut({ key: 'crew-config:{0}', tags: ['crew:{0}'] })
 * async saveCrewConfig(crewId: string, config: CrewConfig): Promise<CrewConfig> { ... }
 */
export function CachePut(options: CachePutOptions): MethodDecorator {
  checkOptionNames(options, ['key', 'ttlMs', 'tags'], '@CachePut()');
  checkKeyTemplate(options.key, 'key');
  if (options.tags !== undefined) checkKeyTemplates(options.tags, 'tags');
  checkCacheWriteOptions({ ttlMs: options.ttlMs });
  const { key, tags } = options;
  const base = definedOnly({ ttlMs: options.ttlMs });
  return serviceMethodDecorator({
    decorator: '@CachePut()',
    slot: CACHE_SERVICE_SLOT,
    metadataKey: CACHE_PUT_METADATA,
    metadata: { options } satisfies CacheDecoratorMetadata<CachePutOptions>,
    alternative: 'CacheService.set()',
    run: async (cache, call, args) => {
      const resolved = resolveCacheKey(key, args);
      const resolvedTags = tags === undefined ? undefined : resolveCacheKeys(tags, args, 'tags');
      const result = await call();
      if (result !== undefined) await cache.set(resolved, result, resolvedTags === undefined ? base : { ...base, tags: resolvedTags });
      return result;
    },
  });
}

/**
 * The cache key of one call: the template resolved (values encoded), hashed when longer than
 * MAX_ID_LENGTH characters. Shared by @Cacheable, @CachePut and @CacheEvict, so all three reach
 * the same entry.
 *
 * @example
 * resolveCacheKey('doc:{0}:{1}', ['alice', 'secret:x']); // 'doc:alice:secret%3Ax'
 */
export function resolveCacheKey(source: KeyTemplate, args: readonly unknown[]): string {
  return fitKeyLength(resolveKeyTemplate(source, args, 'key'));
}

/**
 * Keys or tags of one call, each resolved and hashed as resolveCacheKey does (never patterns:
 * a hashed pattern would match nothing).
 *
 * @example
 * resolveCacheKeys(['crew:{0}', 'company:{1}'], ['c1', 'acme'], 'tags'); // ['crew:c1', 'company:acme']
 */
export function resolveCacheKeys(source: KeyTemplates, args: readonly unknown[], argument: string): string[] {
  return resolveKeyTemplates(source, args, argument).map(fitKeyLength);
}
