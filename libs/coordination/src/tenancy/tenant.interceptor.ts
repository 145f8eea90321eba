import { BadRequestException, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Observable } from 'rxjs';
import { CoordinationCore } from '../core/coordination-core.js';
import { CoordinationError, TenantRequiredError } from '../errors/coordination.error.js';
import { assertTenantId } from '../keys/key-builder.js';
import { TENANT_OPTIONAL } from './tenant-optional.decorator.js';
import { TenantResolver } from './tenant-resolver.js';

/**
 * Resolves the tenant after guards have run (so `tenancy.userProperty` can read the
 * authenticated user, which wins over the header the middleware saw), runs the handler
 * inside that tenant context, and rejects a request
 * without a tenant with 400 when `tenancy.required` is on (unless the route is
 * `@TenantOptional()`). Registered globally by the module.
 */
@Injectable()
export class TenantInterceptor implements NestInterceptor {
  constructor(
    private readonly core: CoordinationCore,
    private readonly resolver: TenantResolver,
    private readonly reflector: Reflector,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    const tenants = this.core.tenants;
    let tenant: string | undefined;
    try {
      // Resolve again now that guards have run: the middleware could only see the header, and
      // a header the client chose must not override the tenant of the authenticated user.
      tenant = (await this.resolver.fromRequest(context.switchToHttp().getRequest())) ?? tenants.current();
      if (tenant === undefined) {
        if (tenants.isRequired && !this.isOptional(context)) throw new TenantRequiredError(`${context.getClass().name}.${context.getHandler().name}`);
        return next.handle();
      }
      // Validate here: inside the Observable below a TenantInvalidError would escape as a 500.
      assertTenantId(tenant);
    } catch (error) {
      if (error instanceof CoordinationError) throw new BadRequestException({ code: error.code, message: error.message });
      throw error;
    }
    const resolved = tenant;
    return new Observable((subscriber) => tenants.run(resolved, () => next.handle().subscribe(subscriber)));
  }

  private isOptional(context: ExecutionContext): boolean {
    return this.reflector.getAllAndOverride<boolean>(TENANT_OPTIONAL, [context.getHandler(), context.getClass()]) === true;
  }
}
