import { Injectable, type NestMiddleware } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { asBadRequest } from '../http/as-bad-request.js';
import { assertTenantId } from '../keys/key-builder.js';
import { TenantResolver } from './tenant-resolver.js';

/**
 * Runs the rest of the request inside the tenant context resolved from the request, so
 * that guards, handlers and services see the same tenant. A malformed tenant id is a 400:
 * a problem details body, sent as `application/problem+json` by a CoordinationExceptionFilter
 * registered globally (`APP_FILTER` or `app.useGlobalFilters`). Middleware runs before any
 * controller, so a filter bound with `@UseFilters()` on a controller never sees its errors.
 * When `tenancy.required` is on and no tenant is found here, the request still goes on:
 * the tenant may come from `request.user`, which auth guards set later; the
 * `TenantInterceptor` rejects it then if it is still missing.
 */
@Injectable()
export class TenantMiddleware implements NestMiddleware {
  constructor(private readonly core: CoordinationCore, private readonly resolver: TenantResolver) {}

  async use(request: unknown, _response: unknown, next: (error?: unknown) => void): Promise<void> {
    let tenant: string | undefined;
    try {
      tenant = await this.resolver.fromRequest(request);
      if (tenant !== undefined) assertTenantId(tenant);
    } catch (error) {
      return next(asBadRequest(error));
    }
    // Outside the try: an error thrown further down the chain must not make us call next() twice.
    if (tenant === undefined) return next();
    this.core.tenants.run(tenant, next);
  }
}
