import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { SessionCookies, SessionGuard, TenantResolver, type SessionRequest } from '@nest-coordination/core';
import { CompaniesService } from '../companies/companies.service.js';
import { USER_HEADER } from '../demo.config.js';
import type { AuthUser } from './auth-user.model.js';
import { firstHeader, hasBearer } from './credentials.js';
import { memberOf } from './membership.js';
import { IS_PUBLIC } from './public.decorator.js';

/** What the guard reads from and writes to a request; `coordinationSession` is set when it came with a session. */
export interface DemoRequest extends SessionRequest {
  headers: Record<string, string | string[] | undefined>;
  user?: AuthUser;
}

/**
 * The demo's authentication, the first APP_GUARD (so that `RateLimitGuard`, which runs after it,
 * counts `user` rules by `request.user.id`). Two ways in, both ending with the same
 * `request.user = { id, companyId, role }`:
 *
 * - **a session** (`POST /auth/login`): the signed `demo.sid` cookie, or `Authorization: Bearer
 *   <token>`. The library's `SessionGuard` verifies and loads it (sliding its expiry) and puts
 *   the handler in the session's tenant: the company is the session's, no `x-company-id` needed.
 *   A session credential that does not check out (forged, tampered, expired, logged out) is a
 *   401 problem+json (`E_SESSION_NOT_FOUND`), never a fall-back to the header. A session of Acme
 *   cannot act in Globex: with `x-company-id: globex` (TenantMiddleware runs the request in
 *   Globex) the Acme session is simply not found, the same 401.
 * - **the `x-user-id` header** (the stand-in kept for scripts), when no session credential is
 *   sent: the user is looked up in the seed and admitted only into their own company (the
 *   `x-company-id` tenant). A missing company is a 400 (`E_TENANT_REQUIRED`), a missing or
 *   unknown user a 401, a user of another company a 403.
 *
 * With a session, `x-user-id` is ignored: the session is the stronger credential.
 *
 * @example
 * providers: [{ provide: APP_GUARD, useClass: DemoAuthGuard }, { provide: APP_GUARD, useClass: RateLimitGuard }]
 * // GET /crews  Cookie: demo.sid=s%3Aacme.…        → Ada's crews (the session's company)
 * // GET /crews  x-user-id: u-ada, x-company-id: acme → the same, for scripts
 */
@Injectable()
export class DemoAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tenants: TenantResolver,
    private readonly companies: CompaniesService,
    private readonly sessions: SessionGuard,
    private readonly cookies: SessionCookies,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<DemoRequest>();
    request.user = this.hasSessionCredential(request) ? await this.fromSession(context, request) : await this.fromHeader(context, request);
    return true;
  }

  private async fromSession(context: ExecutionContext, request: DemoRequest): Promise<AuthUser> {
    // Verifies the cookie's signature (or takes the bearer token), loads the session (sliding its
    // expiry) and binds the request to the session's tenant; throws the 401s otherwise.
    await this.sessions.canActivate(context);
    const session = request.coordinationSession!;
    // The seed is fixed, but a real app would find a user removed since they logged in: 401, or 403 if they changed company.
    return memberOf(this.companies, session.userId, session.tenant);
  }

  private async fromHeader(context: ExecutionContext, request: DemoRequest): Promise<AuthUser> {
    const companyId = await this.tenants.fromRequest(request);
    if (companyId === undefined) throw this.tenants.requiredError(context);
    const userId = firstHeader(request, USER_HEADER);
    if (!userId) throw new UnauthorizedException(`Missing ${USER_HEADER} header`);
    return memberOf(this.companies, userId, companyId);
  }

  /** Whether the request carries a session cookie or a bearer token, valid or not (SessionGuard checks). */
  private hasSessionCredential(request: DemoRequest): boolean {
    return hasBearer(request) || this.cookies.read(request).present;
  }
}
