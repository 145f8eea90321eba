import { SetMetadata } from '@nestjs/common';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { checkCacheWriteOptions, checkOptionNames } from './cache-decorator-options.js';

export const CACHE_RESPONSE_METADATA = 'coordination:cache-response';

/** Options of {@link CacheResponse}. */
export interface CacheResponseOptions {
  /** Lifetime of the cached response; default `cache.defaultTtlMs`. */
  ttlMs?: number;
  /**
   * Tags of the cached response, for `CacheService.invalidateTags` / `@CacheEvict({ tags })`:
   * a list, or a function of the request (e.g. `(req) => [\`crew:${req.params.id}\`]`).
   */
  tags?: readonly string[] | ((request: any) => readonly string[]);
  /** Stale-while-revalidate window after `ttlMs` (`X-Cache: STALE`); default `cache.staleMs`. */
  staleMs?: number;
  /**
   * Cache per user: `true` reads the id from `request.user.id`, `.sub` or `.userId`; a string
   * names the property path in `request.user` (`'account.id'`). A request without a user is not
   * cached. Responses marked `Cache-Control: private` are cached only with this set.
   */
  varyByUser?: boolean | string;
  /**
   * Honour a client's `Cache-Control: no-cache`: the response is reloaded through
   * `getOrSetState(..., { refresh: true })`, so a reload joins a load already running and
   * concurrent reloads run the handler once; the new entry keeps `ttlMs`, `staleMs` and `tags`,
   * and the old one stays when the new response cannot be stored. Default false: the header is
   * ignored and the cached response served, so a client cannot make the handler run at will.
   */
  honorClientNoCache?: boolean;
}

/**
 * Caches the responses of a GET handler (or of every GET handler of a controller) through
 * {@link CacheInterceptor}, which must be applied to the route (`@UseInterceptors(CacheInterceptor)`
 * or globally with `APP_INTERCEPTOR`): routes without `@CacheResponse` are never cached. The
 * handler's `@CacheResponse` overrides its controller's. Options are checked when the class is
 * defined (InvalidArgumentError naming the option).
 *
 * @example
 * @UseInterceptors(CacheInterceptor)
 * @Controller('crews')
 * class CrewsController {
 *   @Get(':id')
 *   @CacheResponse({ ttlMs: 30_000, staleMs: 60_000, tags: (req) => [`crew:${req.params.id}`] })
 *   crew(@Param('id') id: string) { ... }
 *
 *   @Get('mine')
 *   @CacheResponse({ ttlMs: 10_000, varyByUser: true })
 *   mine(@Req() req: Request) { ... }
 * }
 */
export function CacheResponse(options: CacheResponseOptions = {}): MethodDecorator & ClassDecorator {
  checkOptionNames(options, ['ttlMs', 'tags', 'staleMs', 'varyByUser', 'honorClientNoCache'], '@CacheResponse()');
  checkCacheWriteOptions({ ttlMs: options.ttlMs, staleMs: options.staleMs });
  const { tags, varyByUser, honorClientNoCache } = options;
  if (honorClientNoCache !== undefined && typeof honorClientNoCache !== 'boolean') {
    throw new InvalidArgumentError('honorClientNoCache', 'must be a boolean', honorClientNoCache);
  }
  if (tags !== undefined && typeof tags !== 'function') {
    if (!Array.isArray(tags)) throw new InvalidArgumentError('tags', 'must be an array of strings or a function of the request', tags);
    tags.forEach((tag: unknown, i) => {
      if (typeof tag !== 'string' || tag === '') throw new InvalidArgumentError(`tags[${i}]`, 'must be a non-empty string', tag);
    });
  }
  if (typeof varyByUser === 'string') {
    if (!/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/.test(varyByUser)) {
      throw new InvalidArgumentError('varyByUser', 'must be true, false or a property path of request.user such as "id" or "account.id"', varyByUser);
    }
  } else if (varyByUser !== undefined && typeof varyByUser !== 'boolean') {
    throw new InvalidArgumentError('varyByUser', 'must be a boolean or a property path of request.user', varyByUser);
  }
  return SetMetadata(CACHE_RESPONSE_METADATA, Object.freeze({ ...options }));
}
