import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { CoordinationCore } from '../core/coordination-core.js';
import { asBadRequest } from '../http/as-bad-request.js';
import { TenantResolver } from './tenant-resolver.js';

/**
 * Resolves the tenant after guards have run (so `tenancy.userProperty` can read the
 * authenticated user, which wins over the header the middleware saw), runs the handler
 * inside that tenant context, and rejects a request without a tenant with 400 when
 * `tenancy.required` is on (unless the route is `@TenantOptional()`). Registered globally
 * by the module.
 */
@Injectable()
export class TenantInterceptor implements NestInterceptor {
  constructor(private readonly core: CoordinationCore, private readonly resolver: TenantResolver) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
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
}
