import { InvalidArgumentError } from '../errors/coordination.error.js';
import { checkWrite } from './cache-validation.js';
import { resolveCacheOptions } from './cache.options.js';

/**
 * Decoration-time checks of the options of @Cacheable, @CacheEvict, @CachePut, @CacheResponse
 * and CoordinationKeyvStore: a mistake fails when the class is defined (or the store built),
 * with an InvalidArgumentError naming the option, instead of on the first call.
 */

/** Only for checking: the values checkWrite falls back to are never used here. */
const DEFAULTS = resolveCacheOptions(undefined);

/**
 * `options` must be an object holding only `known` options (a typo such as `ttl` for `ttlMs`
 * would otherwise be silently ignored).
 *
 * @example
 * checkOptionNames(options, ['key', 'ttlMs'], '@Cacheable()'); // InvalidArgumentError('options.ttl', ...) for { key, ttl: 5 }
 */
export function checkOptionNames(options: unknown, known: readonly string[], decorator: string): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError('options', `${decorator} takes an options object`, options);
  }
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) throw new InvalidArgumentError(`options.${name}`, `${decorator} has no such option; known: ${known.join(', ')}`);
  }
}

/**
 * Checks `ttlMs`, `staleMs` and `l1` exactly as CacheService checks them on each call (the same
 * rules and messages), once, ahead of the calls.
 *
 * @example
 * checkCacheWriteOptions({ ttlMs: options.ttlMs, staleMs: options.staleMs }); // InvalidArgumentError('ttlMs', ...) for -1
 */
export function checkCacheWriteOptions(options: { ttlMs?: unknown; staleMs?: unknown; l1?: unknown }): void {
  checkWrite(options, DEFAULTS, '', true);
}

/**
 * The options object without its undefined entries, frozen: built once per decorated method and
 * passed to every call, so that an absent option always means the service's default.
 *
 * @example
 * definedOnly({ ttlMs: 5_000, staleMs: undefined }); // { ttlMs: 5_000 }
 */
export function definedOnly<T extends object>(options: T): Readonly<Partial<T>> {
  return Object.freeze(Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined))) as Partial<T>;
}
