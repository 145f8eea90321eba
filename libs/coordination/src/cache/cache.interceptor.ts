import { createHash } from 'node:crypto';
import { Injectable, Logger, StreamableFile, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { SSE_METADATA } from '@nestjs/common/constants.js';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { defer, lastValueFrom, of, type Observable } from 'rxjs';
import { CoordinationCore } from '../core/coordination-core.js';
import { errorMessage } from '../events/error-message.js';
import { asBadRequest } from '../http/as-bad-request.js';
import { MAX_ID_LENGTH } from '../keys/key-builder.js';
import { TenantResolver } from '../tenancy/tenant-resolver.js';
import { definedOnly } from './cache-decorator-options.js';
import { CACHE_RESPONSE_METADATA, type CacheResponseOptions } from './cache-response.decorator.js';
import { CacheService } from './cache.service.js';
import type { GetOrSetOptions } from './cache.types.js';

/** The `X-Cache` header: served fresh from the cache, from its stale window (refreshing in the background), or by the handler. */
export type XCache = 'HIT' | 'MISS' | 'STALE';

interface RequestLike {
  method?: string;
  headers?: Record<string, string | string[] | undefined>;
  user?: Record<string, unknown>;
}

/** A loaded response that must not be stored: the handler's value, carried past getOrSet. */
interface Produced {
  value: unknown;
}

/**
 * Caches the responses of GET handlers marked with {@link CacheResponse} in the tenant's cache
 * (CacheService.getOrSet: concurrent misses call the handler once across the fleet, `staleMs`
 * serves the old response while one request refreshes it), and tells the client with
 * `X-Cache: HIT | MISS | STALE`. Other methods (HEAD included), routes without
 * `@CacheResponse` and `@Sse()` streams pass through.
 *
 * The key is `http:` + the path + the query string with its parameters sorted (so `?a=1&b=2` and
 * `?b=2&a=1` share an entry), + `:user:<id>` with `varyByUser`; keys over MAX_ID_LENGTH
 * characters are hashed (`http:h:<sha256>`). It lives in the tenant's namespace: the tenant is
 * resolved as TenantInterceptor and RateLimitGuard do (a malformed or missing required tenant is
 * a 400; a `@TenantOptional()` request without one is not cached).
 *
 * A response is stored only when its status is 200, its body is not a StreamableFile or
 * undefined, and the handler did not set `Cache-Control: no-store` (nor `private`, unless the
 * route varies by user). A request with `Cache-Control: no-cache` skips the read (`MISS`) and
 * stores the fresh response. During a stale serve the handler runs again in the background, after
 * the stale response was sent: a handler that writes to the response object itself should not
 * use `staleMs`.
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
  private readonly logger = new Logger('CacheInterceptor');

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
    const write: GetOrSetOptions = definedOnly({ tenant, ttlMs: options.ttlMs, staleMs: options.staleMs, tags: this.tagsOf(request, options) });
    if (requestCacheControl(request).includes('no-cache')) {
      this.setXCache(response, 'MISS');
      return defer(() => this.reload(key, next, response, options, write));
    }
    const found = await this.cache.lookup(key, { tenant });
    if (found.state === 'miss') {
      this.setXCache(response, 'MISS');
      return defer(() => this.load(key, next, response, options, write));
    }
    this.setXCache(response, found.state === 'hit' ? 'HIT' : 'STALE');
    if (found.state === 'stale') this.refreshInBackground(key, this.loader(next, response, options), write);
    return of(found.value);
  }

  /**
   * The cache key of the request, or undefined to not cache it (`varyByUser` without a user).
   * Override to key requests differently (e.g. by a header); keep the result a string of at most
   * MAX_ID_LENGTH characters.
   */
  protected async generateKey(context: ExecutionContext, options: CacheResponseOptions): Promise<string | undefined> {
    const request = context.switchToHttp().getRequest<RequestLike>();
    const url = new URL(String(this.adapter.getRequestUrl(request) ?? '/'), 'http://localhost');
    const query = new URLSearchParams([...url.searchParams].sort(([a, av], [b, bv]) => compare(a, b) || compare(av, bv))).toString();
    let key = `http:${url.pathname}${query === '' ? '' : `?${query}`}`;
    if (options.varyByUser !== undefined && options.varyByUser !== false) {
      const user = this.userIdOf(request, options.varyByUser);
      if (user === undefined) return undefined;
      key += `:user:${user}`;
    }
    return key.length <= MAX_ID_LENGTH ? key : `http:h:${createHash('sha256').update(key).digest('base64url')}`;
  }

  /** The id of the request's user for `varyByUser`: `true` reads `id`, `sub` or `userId`; a string is a property path. */
  protected userIdOf(request: RequestLike, varyByUser: true | string): string | undefined {
    const user = request.user;
    const id: unknown = varyByUser === true
      ? (user?.id ?? user?.sub ?? user?.userId)
      : varyByUser.split('.').reduce<unknown>((value, part) => (value as Record<string, unknown> | null | undefined)?.[part], user);
    return typeof id === 'string' ? (id === '' ? undefined : id) : typeof id === 'number' || typeof id === 'bigint' ? String(id) : undefined;
  }

  /** The miss path: the handler runs under getOrSet (once per key across the fleet). */
  private async load(key: string, next: CallHandler, response: unknown, options: CacheResponseOptions, write: GetOrSetOptions): Promise<unknown> {
    let produced: Produced | undefined;
    const cached = await this.cache.getOrSet(key, this.loader(next, response, options, (value) => (produced = { value })), write);
    if (produced) return produced.value;
    if (cached !== undefined) return cached;
    // Coalesced with a load whose response could not be stored: this request runs its own handler.
    return lastValueFrom(next.handle(), { defaultValue: undefined });
  }

  /** `Cache-Control: no-cache` from the client: run the handler and store its response, without reading the cache. */
  private async reload(key: string, next: CallHandler, response: unknown, options: CacheResponseOptions, write: GetOrSetOptions): Promise<unknown> {
    const value = await lastValueFrom(next.handle(), { defaultValue: undefined });
    if (this.storable(response, value, options)) {
      const { staleMs: _staleMs, ...setOptions } = write;
      await this.cache.set(key, value, setOptions).catch((error: unknown) => this.logger.warn(`Could not store the response under ${key}: ${errorMessage(error)}`));
    }
    return value;
  }

  /** The getOrSet loader: runs the handler; returns undefined (not stored) when the response must not be cached. */
  private loader(next: CallHandler, response: unknown, options: CacheResponseOptions, onValue?: (value: unknown) => void): () => Promise<unknown> {
    return async () => {
      const value = await lastValueFrom(next.handle(), { defaultValue: undefined });
      onValue?.(value);
      return this.storable(response, value, options) ? value : undefined;
    };
  }

  /** After a stale serve: getOrSet refreshes the entry once across the fleet; failures are logged, the client already has its answer. */
  private refreshInBackground(key: string, loader: () => Promise<unknown>, write: GetOrSetOptions): void {
    this.cache.getOrSet(key, loader, write).catch((error: unknown) => this.logger.warn(`Could not refresh the stale response under ${key}: ${errorMessage(error)}`));
  }

  private storable(response: unknown, value: unknown, options: CacheResponseOptions): boolean {
    if (value === undefined || value instanceof StreamableFile) return false;
    if ((response as { statusCode?: number }).statusCode !== 200) return false;
    const cacheControl = headerText(this.adapter.getHeader(response, 'Cache-Control')).toLowerCase();
    if (cacheControl.includes('no-store')) return false;
    const perUser = options.varyByUser !== undefined && options.varyByUser !== false;
    return perUser || !cacheControl.includes('private');
  }

  private tagsOf(request: RequestLike, options: CacheResponseOptions): readonly string[] | undefined {
    return typeof options.tags === 'function' ? options.tags(request) : options.tags;
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

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
