import { ForbiddenException, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { TenantResolver } from '@nest-coordination/core';
import { CompaniesService } from '../companies/companies.service.js';
import { USER_HEADER } from '../demo.config.js';
import { quoteInput } from '../http/quote-input.js';
import type { AuthUser } from './auth-user.model.js';
import { IS_PUBLIC } from './public.decorator.js';

interface DemoRequest {
  headers: Record<string, string | string[] | undefined>;
  user?: AuthUser;
}

/**
 * A stand-in for real authentication: trusts the `x-user-id` header, looks the user up in the
 * seed, and admits them only into their own company (the `x-company-id` tenant). A missing
 * company is a 400 (`E_TENANT_REQUIRED`), a missing or unknown user a 401, a user of another
 * company a 403. Registered as the first APP_GUARD so that `RateLimitGuard`, which runs after
 * it, counts `user` rules by `request.user.id`. Replace it with your own auth (JWT, session)
 * that sets `request.user` the same way.
 */
@Injectable()
export class DemoAuthGuard implements CanActivate {
  constructor(private readonly reflector: Reflector, private readonly tenants: TenantResolver, private readonly companies: CompaniesService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<DemoRequest>();
    const companyId = await this.tenants.fromRequest(request);
    if (companyId === undefined) throw this.tenants.requiredError(context);
    const raw = request.headers[USER_HEADER];
    const userId = Array.isArray(raw) ? raw[0] : raw;
    if (!userId) throw new UnauthorizedException(`Missing ${USER_HEADER} header`);
    const user = this.companies.findUser(userId);
    if (!user) throw new UnauthorizedException(`Unknown user ${quoteInput(userId)}`);
    // The same answer for an unknown company as for someone else's: no probing which companies exist.
    if (user.companyId !== companyId) throw new ForbiddenException(`User "${user.id}" is not a member of company "${companyId}"`);
    request.user = { id: user.id, companyId: user.companyId, role: user.role };
    return true;
  }
}
