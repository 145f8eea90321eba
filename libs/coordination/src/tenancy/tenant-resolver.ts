import { Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { CoordinationCore } from '../core/coordination-core.js';
import { COORDINATION_RESOLVED_OPTIONS } from '../core/coordination.tokens.js';
import { TenantInvalidError, TenantRequiredError } from '../errors/coordination.error.js';
import {
  graphqlContextOf, handshakeAuthOf, handshakeRequestOf, rpcMetadataOf, socketRequestOf, type HandlerContextType,
} from '../contexts/context-requests.js';
import { PerRoute } from '../http/per-route.js';
import { SHARED_TENANT, assertTenantId } from '../keys/key-builder.js';
import type { ContextTenant } from '../options/core-options.interface.js';
import type { ResolvedCoordinationOptions } from '../options/resolve-options.js';
import { TENANT_OPTIONAL } from './tenant-optional.decorator.js';

/**
 * Where a guard that authenticated the request records the tenant it is bound to (SessionGuard:
 * the session's tenant). It wins over `tenancy.resolver`, `userProperty` and the header: a
 * handler runs in the tenant of the credential that let it run. The shared namespace
 * (`_shared`, a session created outside any tenant) means no tenant: the handler runs without one.
 *
 * @example
 * (request as Record<symbol, unknown>)[AUTHENTICATED_TENANT] = session.tenant;
 */
export const AUTHENTICATED_TENANT = Symbol('coordination.authenticatedTenant');

interface RequestLike {
  headers?: Record<string, string | string[] | undefined>;
  user?: unknown;
  [AUTHENTICATED_TENANT]?: string;
}

/**
 * Finds the tenant of an incoming request: the tenant a guard authenticated it for (a
 * SessionGuard's session, see AUTHENTICATED_TENANT), else the configured `resolver` function,
 * else the `userProperty` of `request.user`, else the `header`. Returns undefined when none is
 * present; validation and the `required` rule are applied by the caller.
 *
 * @example
 * CoordinationModule.forRoot({ tenancy: { header: 'x-company-id', required: true } });
 */
@Injectable()
export class TenantResolver {
  /** The header as Node stores it (lower case), and `userProperty` split into its path: read on every request. */
  private readonly headerName: string;
  private readonly userPath: readonly string[] | undefined;
  /** `@TenantOptional()` by controller class, then handler: metadata, read once per handler. */
  private readonly optional = new PerRoute<boolean>();

  constructor(
    @Inject(COORDINATION_RESOLVED_OPTIONS) private readonly options: ResolvedCoordinationOptions,
    private readonly core: CoordinationCore,
    private readonly reflector: Reflector,
  ) {
    this.headerName = options.tenancy.header.toLowerCase();
    const { userProperty } = options.tenancy;
    this.userPath = userProperty ? userProperty.split('.') : undefined;
  }

  /**
   * The tenant an HTTP handler runs under, for code that runs once guards may have set
   * `request.user` (TenantInterceptor, RateLimitGuard): the request's tenant before the
   * context's (a header the middleware saw must not override the authenticated user's),
   * validated. Undefined when there is none and none is needed (tenancy not required, or a
   * `@TenantOptional()` route). Throws TenantInvalidError / TenantRequiredError otherwise.
   */
  async forHandler(context: ExecutionContext): Promise<string | undefined> {
    const named = this.read(context.switchToHttp().getRequest());
    // Awaited only when `tenancy.resolver` returned a thenable (read() gives a promise then, else
    // a string or undefined): this runs on every request (TenantInterceptor, RateLimitGuard).
    const tenant = (typeof named === 'object' ? await named : named) ?? this.core.tenants.current();
    if (tenant !== undefined) {
      assertTenantId(tenant);
      return tenant;
    }
    if (this.core.tenants.isRequired && !this.isOptional(context)) throw this.requiredErrorOf(context, 'http');
    return undefined;
  }

  /**
   * The tenant a handler of any context type runs under: `forHandler` for HTTP; for a GraphQL
   * resolver, a WebSocket message handler or a microservice message handler, the tenant its
   * context names (`tenancy.resolvers`, else the type's default: see fromContext), validated. A
   * GraphQL operation without one runs in the context's tenant (TenantMiddleware's, from the HTTP
   * request's header); one naming another tenant than that one is refused (TenantInvalidError:
   * its field resolvers, which run outside the interceptors by default, would run in the other);
   * a socket or a message never does (a tenant left in the async context by
   * whatever opened the connection is not theirs). Undefined when there is none and none is
   * needed (tenancy not required, or a `@TenantOptional()` handler or class). Throws
   * TenantInvalidError / TenantRequiredError otherwise.
   *
   * @example
   * const tenant = await this.tenants.forContext(context); // 'acme' for a socket whose handshake sent x-tenant-id: acme
   */
  async forContext(context: ExecutionContext): Promise<string | undefined> {
    const type = context.getType<HandlerContextType | 'http'>();
    if (type === 'http') return this.forHandler(context);
    const named = await this.fromContext(context);
    const current = type === 'graphql' ? this.core.tenants.current() : undefined;
    // A GraphQL field resolver runs outside the interceptors (by @nestjs/graphql's default) in the
    // tenant of the HTTP request (TenantMiddleware's): an operation naming another one would run
    // its root fields in one tenant and its field resolvers in the other. Refused, as SessionGuard
    // refuses a request naming another tenant than its session's.
    if (named !== undefined && current !== undefined && named !== current) {
      throw new TenantInvalidError(`${handlerName(context)} names tenant "${named}" but its HTTP request runs in "${current}" (TenantMiddleware); send one tenant`);
    }
    const tenant = named ?? current;
    if (tenant !== undefined) {
      assertTenantId(tenant);
      return tenant;
    }
    if (this.core.tenants.isRequired && !this.isOptional(context)) throw this.requiredErrorOf(context, type);
    return undefined;
  }

  /**
   * The tenant a handler's context names, unvalidated, or undefined; per context type, the
   * configured `tenancy.resolvers.<type>`, else:
   * - `http`: the request (fromRequest);
   * - `graphql`: the HTTP request behind the operation (the GraphQL context's `req`), read like
   *   any request: `tenancy.resolver`, `userProperty` or `header`;
   * - `ws`: with `tenancy.resolver`, that resolver on the handshake's HTTP request
   *   (`client.request`); else the tenant a guard (SessionGuard) authenticated the handshake
   *   request for; with `userProperty`, the user of the socket (`client.data.user`, else
   *   `client.request.user`) only; else the handshake's `header`, else the handshake's
   *   `auth.tenantId` (`io(url, { auth: { tenantId } })`: browsers cannot set handshake headers);
   *   both, naming different tenants, are refused (TenantInvalidError);
   * - `rpc`: with `userProperty`, the payload's `user` at that path only; else the packet
   *   metadata's `header` entry (TCP transport), else the payload's `tenantId` property (a string
   *   or a number). Trusted as sent (`tenancy.resolver` is not consulted: there is no request):
   *   for services behind a trusted transport; `tenancy.resolvers.rpc` replaces it.
   *
   * `tenancy.resolver` is not called without a request to read (a socket without a handshake
   * request, a GraphQL context without `req`): no tenant then.
   *
   * @example
   * // a socket.io client: io(url, { auth: { tenantId: 'acme' } })
   * await tenants.fromContext(context); // 'acme'
   */
  async fromContext(context: ExecutionContext): Promise<string | undefined> {
    const type = context.getType<HandlerContextType | 'http'>();
    const configured = type === 'http' ? undefined : this.options.tenancy.resolvers?.[type];
    switch (type) {
      case 'http':
        return this.read(context.switchToHttp().getRequest());
      case 'graphql': {
        const graphqlContext = graphqlContextOf(context);
        return configured ? named(configured.call(this.options.tenancy.resolvers, graphqlContext, context)) : this.read(graphqlContext?.req ?? graphqlContext?.request);
      }
      case 'ws': {
        const client = context.switchToWs().getClient<unknown>();
        if (configured) return named(configured.call(this.options.tenancy.resolvers, client, context));
        if (this.options.tenancy.resolver) return this.read(handshakeRequestOf(client));
        const request = this.socketRequest(client);
        const tenant = await this.read(request);
        // The handshake's auth only stands in for its header: not for a user, nor for an authenticated (even shared) credential.
        if (this.userPath || request[AUTHENTICATED_TENANT] !== undefined) return tenant;
        const auth = idOf(handshakeAuthOf(client)?.tenantId);
        if (tenant !== undefined && auth !== undefined && auth !== tenant) {
          throw new TenantInvalidError(`the handshake's "${this.headerName}" header names "${tenant}" but auth.tenantId names "${auth}"; send one tenant`);
        }
        return tenant ?? auth;
      }
      case 'rpc': {
        const data = context.switchToRpc().getData<unknown>();
        if (configured) return named(configured.call(this.options.tenancy.resolvers, data, context));
        // With userProperty, only the payload's user names the tenant (as sent: the transport is trusted).
        if (this.userPath) return this.userTenant((data as { user?: unknown } | null | undefined)?.user);
        return idOf(rpcMetadataOf(context)?.[this.headerName]) ?? idOf((data as { tenantId?: unknown } | null | undefined)?.tenantId);
      }
      default:
        return undefined;
    }
  }

  /**
   * The error for a request that names no tenant where one is required. Its message tells an
   * HTTP client what the request should have carried (the configured header, an authenticated
   * user with `tenancy.userProperty`, or what `tenancy.resolver` looks for), not the
   * `{ tenant }` option of a service call. For guards that check the tenant themselves.
   *
   * @example
   * if (companyId === undefined) throw this.tenants.requiredError(context);
   * // A tenant is required for CrewsController.run but none was resolved; send the tenant id in the "x-company-id" header
   */
  requiredError(context: ExecutionContext): TenantRequiredError {
    return this.requiredErrorOf(context, context.getType<HandlerContextType | 'http'>());
  }

  private requiredErrorOf(context: ExecutionContext, type: HandlerContextType | 'http'): TenantRequiredError {
    const { resolver, resolvers, userProperty, header } = this.options.tenancy;
    if (type !== 'http' && resolvers?.[type]) {
      return new TenantRequiredError(handlerName(context), `the configured tenancy.resolvers.${type} found none`);
    }
    if (type === 'ws' || type === 'rpc') return new TenantRequiredError(handlerName(context), this.contextRemedy(type));
    const remedy = resolver
      ? 'the configured tenancy.resolver found none in the request'
      : userProperty
        ? `authenticate the request: the tenant is read from request.user.${userProperty}, which was not set`
        : `send the tenant id in the "${header}" header`;
    return new TenantRequiredError(handlerName(context), remedy);
  }

  /** A socket as a request (socketRequestOf), bound to the tenant a guard authenticated its handshake request for, if any. */
  private socketRequest(client: unknown): RequestLike {
    const request = socketRequestOf(client) as RequestLike;
    const authenticated = (handshakeRequestOf(client) as RequestLike | undefined)?.[AUTHENTICATED_TENANT];
    if (authenticated !== undefined) request[AUTHENTICATED_TENANT] = authenticated;
    return request;
  }

  /** What a socket or a message should have carried (see fromContext). */
  private contextRemedy(type: 'ws' | 'rpc'): string {
    const { resolver, userProperty, header } = this.options.tenancy;
    if (type === 'rpc' && userProperty) return `send the user in the payload: the tenant is read from the payload's user.${userProperty}, or configure tenancy.resolvers.rpc`;
    if (type === 'rpc') return `send the tenant id as the payload's "tenantId" or in the packet metadata's "${header}", or configure tenancy.resolvers.rpc`;
    if (resolver) return "the configured tenancy.resolver found none in the socket's handshake request";
    if (userProperty) return `authenticate the socket: the tenant is read from client.data.user.${userProperty} (or client.request.user.${userProperty}), which was not set`;
    return `send the tenant id in the "${header}" header of the handshake, or as auth.tenantId (io(url, { auth: { tenantId } }))`;
  }

  /**
   * The tenant the request names, unvalidated, or undefined (also for a request authenticated in
   * the shared namespace: nothing else is consulted then). Throws TenantInvalidError for a
   * `userProperty` that holds neither a string nor a number.
   */
  async fromRequest(request: unknown): Promise<string | undefined> {
    return this.read(request);
  }

  /** fromRequest, synchronous unless `tenancy.resolver` returns a thenable. */
  private read(request: unknown): string | undefined | Promise<string | undefined> {
    const req = (request ?? {}) as RequestLike;
    const authenticated = req[AUTHENTICATED_TENANT];
    // A credential of the shared namespace (a session created outside any tenant) binds the
    // request to no tenant: neither `_shared` (no valid tenant id) nor what the client sent.
    if (authenticated !== undefined) return authenticated === SHARED_TENANT ? undefined : authenticated;
    const { resolver } = this.options.tenancy;
    if (resolver) {
      // No request to read (a socket without a handshake request, a GraphQL context without `req`,
      // e.g. graphql-ws): no tenant, rather than a resolver failing on `undefined`.
      if (request === undefined || request === null) return undefined;
      const named = resolver(request);
      // The promise path only for a thenable: a synchronous resolver then costs no promise and no microtask hop per call.
      return isThenable(named) ? Promise.resolve(named).then(orUndefined) : orUndefined(named);
    }
    // Only the authenticated user names the tenant then: a header the client chose must
    // never stand in for a missing or unauthenticated user.
    if (this.userPath) return this.userTenant(req.user);
    const raw = req.headers?.[this.headerName];
    const value = Array.isArray(raw) ? raw[0] : raw;
    return value === undefined || value === '' ? undefined : value;
  }

  /** The `userProperty` of `user`, unvalidated; TenantInvalidError for neither a string nor a number. */
  private userTenant(user: unknown): string | undefined {
    let value: unknown = user;
    for (const part of this.userPath!) value = (value as Record<string, unknown> | undefined)?.[part];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'number' || typeof value === 'bigint') return String(value);
    // An object would read as "[object Object]"; name its type instead.
    if (typeof value !== 'string') assertTenantId(value);
    return value as string;
  }

  /** Whether the handler (or its controller) is `@TenantOptional()`. */
  private isOptional(context: ExecutionContext): boolean {
    let optional = this.optional.get(context);
    if (optional === undefined) {
      optional = this.reflector.getAllAndOverride<boolean>(TENANT_OPTIONAL, [context.getHandler(), context.getClass()]) === true;
      this.optional.set(context, optional);
    }
    return optional;
  }
}

function handlerName(context: ExecutionContext): string {
  return `${context.getClass().name}.${context.getHandler().name}`;
}

/** What a `tenancy.resolvers` function returned, awaited, `null` as undefined. */
async function named(tenant: ContextTenant): Promise<string | undefined> {
  return (await tenant) ?? undefined;
}

/** A tenant id read from a socket's `auth` or a message: a non-empty string, or a number; anything else is none. */
function idOf(value: unknown): string | undefined {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function isThenable(value: unknown): value is PromiseLike<string | undefined | null> {
  return typeof (value as PromiseLike<unknown> | null | undefined)?.then === 'function';
}

/** A resolver's `null` (which JavaScript callers may return) as `undefined`. */
function orUndefined(tenant: string | undefined | null): string | undefined {
  return tenant ?? undefined;
}
