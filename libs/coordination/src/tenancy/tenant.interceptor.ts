import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Observable, catchError, throwError } from 'rxjs';
import { ContextExceptions } from '../contexts/context-exceptions.js';
import { isHandlerContextType } from '../contexts/context-requests.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { asBadRequest } from '../http/as-bad-request.js';
import { TenantResolver } from './tenant-resolver.js';

/**
 * Resolves the tenant after guards have run (so `tenancy.userProperty` can read the
 * authenticated user, which wins over the header the middleware saw), runs the handler
 * inside that tenant context, and rejects a request without a tenant with 400 when
 * `tenancy.required` is on (unless the route is `@TenantOptional()`). Registered globally
 * by the module.
 *
 * GraphQL resolvers, WebSocket message handlers and microservice message handlers likewise run
 * in the tenant their context names (TenantResolver.forContext, `tenancy.resolvers`); there a
 * missing or malformed tenant, and any library error the handler throws (a `@WithLock` timeout,
 * a rate limit it enforced), is answered with the context's error (ContextExceptions: a GraphQL
 * error with `extensions.code`, a `WsException`, an `RpcException`), where HTTP has
 * CoordinationExceptionFilter.
 */
@Injectable()
export class TenantInterceptor implements NestInterceptor {
  constructor(private readonly core: CoordinationCore, private readonly resolver: TenantResolver, private readonly exceptions: ContextExceptions) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const type = context.getType();
    if (type !== 'http') return isHandlerContextType(type) ? this.interceptHandler(context, next) : next.handle();
    // Resolved (and validated) here, not inside the Observable, where an error would escape as a 500.
    let tenant: string | undefined;
    try {
      tenant = await this.resolver.forHandler(context);
    } catch (error) {
      throw asBadRequest(error);
    }
    // Already the current tenant (the middleware runs the request in the tenant its header names):
    // the handler runs in it without entering it again.
    if (tenant === undefined || tenant === this.core.tenants.current()) return next.handle();
    return new Observable((subscriber) => this.core.tenants.run(tenant, () => next.handle().subscribe(subscriber)));
  }

  /** A GraphQL resolver, a WebSocket message handler or a microservice handler: its tenant, and its errors as the context's. */
  private async interceptHandler(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    let tenant: string | undefined;
    try {
      tenant = await this.resolver.forContext(context);
    } catch (error) {
      throw this.exceptions.map(context, error);
    }
    const handle = (): Observable<unknown> => next.handle().pipe(catchError((error: unknown) => throwError(() => this.exceptions.map(context, error))));
    // A socket or a message without a tenant runs in none, not in one its connection was opened in.
    if (tenant === undefined) return this.core.tenants.exit(handle);
    if (tenant === this.core.tenants.current()) return handle();
    return new Observable((subscriber) => this.core.tenants.run(tenant, () => handle().subscribe(subscriber)));
  }
}
