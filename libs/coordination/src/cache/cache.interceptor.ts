import { Injectable, StreamableFile, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { SSE_METADATA } from '@nestjs/common/constants.js';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { defer, lastValueFrom, type Observable } from 'rxjs';
import { CoordinationCore } from '../core/coordination-core.js';
import { encodeKeyPart, fitKeyLength } from '../core/key-template.js';
import { asBadRequest } from '../http/as-bad-request.js';
import { TenantResolver } from '../tenancy/tenant-resolver.js';
import { definedOnly } from './cache-decorator-options.js';
import { CACHE_RESPONSE_METADATA, type CacheResponseOptions } from './cache-response.decorator.js';
import { CacheService } from './cache.service.js';
import type { GetOrSetStateOptions } from './cache.types.js';

/** The `X-Cache` header: served fresh from the cache, from its stale window (refreshing in the background), or by the handler. */
export type XCache = 'HIT' | 'MISS' | 'STALE';

interface RequestLike {
  method?: string;
  headers?: Record<string, string | string[] | undefined>;
  user?: Record<string, unknown>;
}

/** What is stored per response: the handler's value and the Content-Type it set, if any. */
interface CachedResponse {
  readonly body: unknown;
  readonly contentType?: string;
}

/** A loaded response that must not be stored: the handler's value, carried past getOrSet. */
interface Produced {
  value: unknown;
}

/** Control characters: a path holding one (never from an HTTP parser, only from a rewrite) is not cached. */
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * Caches the responses of GET handlers marked with {@link CacheResponse} in the tenant's cache
 * (CacheService.getOrSet: concurrent misses call the handler once across the fleet, `staleMs`
 * serves the old response while one request refreshes it), and tells the client with
 * `X-Cache: HIT | MISS | STALE`. Other methods (HEAD included), routes without
 * `@CacheResponse` and `@Sse()` streams pass through.
 *
 * The key (see `generateKey`) is `http:` + the request path exactly as received (the URL up to
 * `?`, never normalised: `/pages/%2e%2e/home` and `/home` are two entries, as the router sees
 * two routes) + `?` and the query parameters sorted by name (stable: `?a=1&b=2` and `?b=2&a=1`
 * share an entry, `?sort=a&sort=b` and `?sort=b&sort=a` do not) + `:user:<id>` with
 * `varyByUser` + `#<Controller>.<handler>`, so routes that share a path (versions selected by a
 * header or media type) never share an entry. One handler that serves several versions and
 * answers differently per version should extend `generateKey` with the version. Keys over
 * MAX_ID_LENGTH characters are hashed (their head kept, see fitKeyLength). The entry lives in the
 * tenant's namespace: the tenant is resolved as TenantInterceptor and RateLimitGuard do (a
 * malformed or missing required tenant is a 400; a `@TenantOptional()` request without one is
 * not cached).
 *
 * A response is stored only when its status is 200, its body is not a StreamableFile or
 * undefined, and the handler did not set `Cache-Control: no-store` (nor `private`, unless the
 * route varies by user). The Content-Type the handler set (e.g. `res.type('text/csv')`) is
 * stored with the body and sent again on a hit; no other header is: headers that must be on
 * every response belong in `@Header()` (applied to hits too) or a middleware.
 *
 * Each request is one CacheService.getOrSetState call, counted once in `stats()` (a MISS one
 * miss, a HIT one hit, a STALE one stale serve). A fresh hit never runs the handler in the
 * background (no XFetch early refresh).
 *
 * A client's `Cache-Control: no-cache` is ignored by default (a client must not be able to run
 * the handler at will). With `@CacheResponse({ honorClientNoCache: true })` the response is loaded
 * again through getOrSet (`refresh`): concurrent reloads of the key, and a load of it already
 * running in this process, still run the handler once, and the new entry (stored over the old
 * one, which every L1 drops) keeps the route's `ttlMs`, `staleMs` and tags; a reloaded response
 * that cannot be stored leaves the cached one in place. During a stale serve the handler runs
 * again in the background, after the stale response was sent: a handler that writes to the
 * response object itself should not use `staleMs`.
 *
 * Extend it and override `generateKey` / `userIdOf` to change how requests are keyed.
 *
 * @example
 * @UseInterceptors(CacheInterceptor)
 * @Controller('crews')
 * class CrewsController {
 *   @Get(':id')
 *   @CacheResponse({ ttlMs: 30_000, tags: (req) => [`crew:${req.params.id}`] })
 *   crew(@Param('id') id: string) { ... }
 * }
 *
 * @example
 * // globally: only routes with @CacheResponse are cached
 * providers: [{ provide: APP_INTERCEPTOR, useClass: CacheInterceptor }]
 */
@Injectable()
export class CacheInterceptor implements NestInterceptor {
  constructor(
    protected readonly cache: CacheService,
    protected readonly reflector: Reflector,
    protected readonly core: CoordinationCore,
    protected readonly tenantResolver: TenantResolver,
    protected readonly adapterHost: HttpAdapterHost,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    const options = this.reflector.getAllAndOverride<CacheResponseOptions | undefined>(CACHE_RESPONSE_METADATA, [context.getHandler(), context.getClass()]);
    if (!options || Reflect.getMetadata(SSE_METADATA, context.getHandler())) return next.handle();
    const http = context.switchToHttp();
    const request = http.getRequest<RequestLike>();
    if (this.adapter.getRequestMethod(request) !== 'GET') return next.handle();
    const tenant = await this.tenantResolver.forHandler(context).catch((error: unknown) => {
      throw asBadRequest(error);
    });
    // A @TenantOptional() request without a tenant under `tenancy.required`: no namespace to cache in.
    if (tenant === undefined && this.core.tenants.isRequired) return next.handle();
    const key = await this.generateKey(context, options);
    if (key === undefined) return next.handle();

    const response = http.getResponse<unknown>();
    const refresh = options.honorClientNoCache === true && requestCacheControl(request).includes('no-cache');
    // xfetch off: a fresh hit must not run the handler in the background (it would write to this request's response).
    const read: GetOrSetStateOptions = definedOnly({
      tenant, ttlMs: options.ttlMs, staleMs: options.staleMs, tags: this.tagsOf(request, options), xfetch: false, refresh,
    });
    return defer(() => this.serve(key, next, response, options, read));
  }

  /**
   * The cache key of the request (see the class notes), or undefined to not cache it
   * (`varyByUser` without a user, a path holding a control character). Override to key requests
   * differently (e.g. by a header or the API version); return a string of at most MAX_ID_LENGTH
   * characters, and keep distinct responses on distinct keys (`super.generateKey(...)` plus a suffix).
   */
  protected async generateKey(context: ExecutionContext, options: CacheResponseOptions): Promise<string | undefined> {
    const request = context.switchToHttp().getRequest<RequestLike>();
    const url = String(this.adapter.getRequestUrl(request) ?? '/');
    const mark = url.indexOf('?');
    const path = mark === -1 ? url : url.slice(0, mark);
    if (CONTROL.test(path)) return undefined;
    const query = mark === -1 ? '' : sortedQuery(url.slice(mark + 1));
    let key = `http:${path}${query === '' ? '' : `?${query}`}`;
    if (options.varyByUser !== undefined && options.varyByUser !== false) {
      const user = this.userIdOf(request, options.varyByUser);
      if (user === undefined) return undefined;
      key += `:user:${encodeKeyPart(user)}`;
    }
    // Last, after a '#' its encoded names cannot hold: the key reads back unambiguously whatever the path holds.
    key += `#${encodeKeyPart(context.getClass().name)}.${encodeKeyPart(context.getHandler().name)}`;
    return fitKeyLength(key);
  }

  /** The id of the request's user for `varyByUser`: `true` reads `id`, `sub` or `userId`; a string is a property path. */
  protected userIdOf(request: RequestLike, varyByUser: true | string): string | undefined {
    const user = request.user;
    const id: unknown = varyByUser === true
      ? (user?.id ?? user?.sub ?? user?.userId)
      : varyByUser.split('.').reduce<unknown>((value, part) => (value as Record<string, unknown> | null | undefined)?.[part], user);
    return typeof id === 'string' ? (id === '' ? undefined : id) : typeof id === 'number' || typeof id === 'bigint' ? String(id) : undefined;
  }

  /**
   * One getOrSetState call per request (one read counted): a hit or stale serve replays the
   * cached response (a stale one is refreshed by getOrSet in the background, running the handler
   * after this response was sent); a miss runs the handler under getOrSet, once per key across
   * the fleet (with `refresh`, a client no-cache reload). `X-Cache: MISS` is set first, so a
   * handler that throws answers with it.
   */
  private async serve(key: string, next: CallHandler, response: unknown, options: CacheResponseOptions, read: GetOrSetStateOptions): Promise<unknown> {
    this.setXCache(response, 'MISS');
    let produced: Produced | undefined;
    const found = await this.cache.getOrSetState(key, this.loader(next, response, options, (value) => (produced = { value })), read);
    // The handler ran for this request (a stale serve's background refresh runs it later, for nobody).
    if (found.state === 'miss' && produced) return produced.value;
    if (isCachedResponse(found.value)) {
      if (found.state !== 'miss') this.setXCache(response, found.state === 'hit' ? 'HIT' : 'STALE');
      return this.replay(response, found.value);
    }
    // Coalesced with a load whose response could not be stored (or the key holds something else): this request runs its own handler.
    return lastValueFrom(next.handle(), { defaultValue: undefined });
  }

  /** The getOrSet loader: runs the handler; returns undefined (not stored) when the response must not be cached. */
  private loader(next: CallHandler, response: unknown, options: CacheResponseOptions, onValue?: (value: unknown) => void): () => Promise<CachedResponse | undefined> {
    return async () => {
      const value = await lastValueFrom(next.handle(), { defaultValue: undefined });
      onValue?.(value);
      if (!this.storable(response, value, options)) return undefined;
      const contentType = this.adapter.getHeader(response, 'Content-Type');
      return typeof contentType === 'string' && contentType !== '' ? { body: value, contentType } : { body: value };
    };
  }

  /** A cached response's body, its Content-Type set on the response. */
  private replay(response: unknown, cached: CachedResponse): unknown {
    if (cached.contentType !== undefined) this.adapter.setHeader(response, 'Content-Type', cached.contentType);
    return cached.body;
  }

  private storable(response: unknown, value: unknown, options: CacheResponseOptions): boolean {
    if (value === undefined || value instanceof StreamableFile) return false;
    if ((response as { statusCode?: number }).statusCode !== 200) return false;
    const cacheControl = headerText(this.adapter.getHeader(response, 'Cache-Control')).toLowerCase();
    if (cacheControl.includes('no-store')) return false;
    const perUser = options.varyByUser !== undefined && options.varyByUser !== false;
    return perUser || !cacheControl.includes('private');
  }

  /** The route's tags, each hashed past MAX_ID_LENGTH as `@CacheEvict({ tags })` hashes its own. */
  private tagsOf(request: RequestLike, options: CacheResponseOptions): readonly string[] | undefined {
    const tags = typeof options.tags === 'function' ? options.tags(request) : options.tags;
    return Array.isArray(tags) ? tags.map((tag: unknown) => (typeof tag === 'string' ? fitKeyLength(tag) : tag) as string) : tags;
  }

  private setXCache(response: unknown, value: XCache): void {
    this.adapter.setHeader(response, 'X-Cache', value);
  }

  private get adapter() {
    return this.adapterHost.httpAdapter;
  }
}

function requestCacheControl(request: RequestLike): string {
  return headerText(request.headers?.['cache-control']).toLowerCase();
}

function headerText(value: unknown): string {
  return Array.isArray(value) ? value.join(',') : typeof value === 'string' ? value : '';
}

/** The query string with its parameters sorted by name, stably (repeated parameters keep their order). */
function sortedQuery(query: string): string {
  const params = [...new URLSearchParams(query)];
  params.sort(([a], [b]) => compare(a, b));
  return new URLSearchParams(params).toString();
}

function isCachedResponse(value: unknown): value is CachedResponse {
  return typeof value === 'object' && value !== null && 'body' in value;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
