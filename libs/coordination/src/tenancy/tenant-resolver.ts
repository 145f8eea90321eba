import { Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { CoordinationCore } from '../core/coordination-core.js';
import { COORDINATION_RESOLVED_OPTIONS } from '../core/coordination.tokens.js';
import { TenantRequiredError } from '../errors/coordination.error.js';
import { PerRoute } from '../http/per-route.js';
import { SHARED_TENANT, assertTenantId } from '../keys/key-builder.js';
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
    if (this.core.tenants.isRequired && !this.isOptional(context)) throw this.requiredError(context);
    return undefined;
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
    const { resolver, userProperty, header } = this.options.tenancy;
    const remedy = resolver
      ? 'the configured tenancy.resolver found none in the request'
      : userProperty
        ? `authenticate the request: the tenant is read from request.user.${userProperty}, which was not set`
        : `send the tenant id in the "${header}" header`;
    return new TenantRequiredError(`${context.getClass().name}.${context.getHandler().name}`, remedy);
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
      const named = resolver(request);
      // The promise path only for a thenable: a synchronous resolver then costs no promise and no microtask hop per call.
      return isThenable(named) ? Promise.resolve(named).then(orUndefined) : orUndefined(named);
    }
    if (this.userPath) {
      // Only the authenticated user names the tenant then: a header the client chose must
      // never stand in for a missing or unauthenticated user.
      let value: unknown = req.user;
      for (const part of this.userPath) value = (value as Record<string, unknown> | undefined)?.[part];
      if (value === undefined || value === null) return undefined;
      if (typeof value === 'number' || typeof value === 'bigint') return String(value);
      // An object would read as "[object Object]"; name its type instead.
      if (typeof value !== 'string') assertTenantId(value);
      return value as string;
    }
    const raw = req.headers?.[this.headerName];
    const value = Array.isArray(raw) ? raw[0] : raw;
    return value === undefined || value === '' ? undefined : value;
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

function isThenable(value: unknown): value is PromiseLike<string | undefined | null> {
  return typeof (value as PromiseLike<unknown> | null | undefined)?.then === 'function';
}

/** A resolver's `null` (which JavaScript callers may return) as `undefined`. */
function orUndefined(tenant: string | undefined | null): string | undefined {
  return tenant ?? undefined;
}
