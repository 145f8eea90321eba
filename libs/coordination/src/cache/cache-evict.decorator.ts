import { InvalidArgumentError } from '../errors/coordination.error.js';
import { checkKeyTemplates, resolveKeyTemplates, type KeyTemplates } from '../core/key-template.js';
import { serviceMethodDecorator } from '../core/method-decorators.js';
import { checkOptionNames } from './cache-decorator-options.js';
import { CACHE_EVICT_METADATA, CACHE_SERVICE_SLOT, resolveCacheKeys, type CacheDecoratorMetadata } from './cacheable.decorator.js';
import type { CacheService } from './cache.service.js';

/** Options of {@link CacheEvict}; at least one of `keys`, `tags` and `patterns`. */
export interface CacheEvictOptions {
  /** Keys to delete (`CacheService.delete`): templates over the arguments, or a function returning the keys. */
  keys?: KeyTemplates;
  /** Tags to invalidate (`CacheService.invalidateTags`): every entry tagged with one is gone, on every instance. */
  tags?: KeyTemplates;
  /**
   * Patterns to invalidate (`CacheService.invalidatePattern`, `*` is the only wildcard), within the
   * tenant. A `*` of the template is a wildcard; one in an argument is encoded, so it matches only itself.
   */
  patterns?: KeyTemplates;
  /** Evict before running the method (and even if it throws) instead of after it succeeded. Default false. */
  beforeInvocation?: boolean;
}

/**
 * Removes cache entries when the method runs: deletes `keys`, invalidates `tags` and `patterns`,
 * all computed from the arguments (templates such as `'crew:{0}'` or functions), in the tenant in
 * context. By default after the method returned (an error of the method evicts nothing); with
 * `beforeInvocation: true` before it runs. The method becomes async. A failed eviction (Redis
 * unreachable) rejects the call with RedisUnavailableError: a lost invalidation is never silent.
 * See @Cacheable for metadata, injection and validation.
 *
 * @example
 * @CacheEvict({ tags: ['crew:{0}'] })
 * async updateCrew(crewId: string, patch: CrewPatch): Promise<Crew> { ... }
 *
 * @example
 * @CacheEvict({ keys: (user: User) => [`user:${user.id}`, `user-email:${user.email}`], patterns: ['search:*'], beforeInvocation: true })
 * async saveUser(user: User) { ... }
 */
export function CacheEvict(options: CacheEvictOptions): MethodDecorator {
  checkOptionNames(options, ['keys', 'tags', 'patterns', 'beforeInvocation'], '@CacheEvict()');
  const lists = (['keys', 'tags', 'patterns'] as const).filter((name) => options[name] !== undefined);
  if (lists.length === 0) throw new InvalidArgumentError('options', '@CacheEvict() needs at least one of keys, tags, patterns', options);
  for (const name of lists) checkKeyTemplates(options[name], name);
  if (options.beforeInvocation !== undefined && typeof options.beforeInvocation !== 'boolean') {
    throw new InvalidArgumentError('beforeInvocation', 'must be a boolean', options.beforeInvocation);
  }
  const { keys, tags, patterns, beforeInvocation = false } = options;
  return serviceMethodDecorator({
    decorator: '@CacheEvict()',
    slot: CACHE_SERVICE_SLOT,
    metadataKey: CACHE_EVICT_METADATA,
    metadata: { options } satisfies CacheDecoratorMetadata<CacheEvictOptions>,
    alternative: 'CacheService.delete() / invalidateTags()',
    run: async (cache, call, args) => {
      const evicted: Eviction = {
        keys: keys === undefined ? [] : resolveCacheKeys(keys, args, 'keys'),
        tags: tags === undefined ? [] : resolveCacheKeys(tags, args, 'tags'),
        patterns: patterns === undefined ? [] : resolveKeyTemplates(patterns, args, 'patterns'),
      };
      if (beforeInvocation) {
        await evict(cache, evicted);
        return call();
      }
      const result = await call();
      await evict(cache, evicted);
      return result;
    },
  });
}

interface Eviction {
  keys: string[];
  tags: string[];
  patterns: string[];
}

async function evict(cache: CacheService, { keys, tags, patterns }: Eviction): Promise<void> {
  await Promise.all([
    keys.length > 0 ? cache.delete(keys) : undefined,
    tags.length > 0 ? cache.invalidateTags(tags) : undefined,
    ...patterns.map((pattern) => cache.invalidatePattern(pattern)),
  ]);
}
