import { HttpException, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Socket } from 'socket.io';
import {
  ContextExceptions, CoordinationBadRequestException, CoordinationHttpException, SessionCookies, SessionGuard, TenantResolver, type SessionRequest,
} from '@nest-coordination/core';
import { CompaniesService } from '../companies/companies.service.js';
import { USER_HEADER } from '../demo.config.js';
import type { AuthUser } from './auth-user.model.js';
import { firstHeader, hasBearer } from './credentials.js';
import { httpContextOf } from './http-context.js';
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
 * The same credentials let in a GraphQL operation (those of its HTTP request, checked once per
 * operation; `req.user`) and a message of the `/crews` socket.io namespace (those of the socket's
 * handshake: its cookie, or the headers a script sets with `extraHeaders`, checked again for every
 * message, so that a session ended meanwhile stops the socket; `client.data.user`). Their
 * refusals are the context's errors (ContextExceptions): `extensions.code` / the `exception`
 * event's `code` is the library's (`E_SESSION_NOT_FOUND`, `E_TENANT_REQUIRED`), or
 * `UNAUTHENTICATED` / `FORBIDDEN` for the demo's own 401 / 403.
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
    private readonly exceptions: ContextExceptions,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const type = context.getType<'http' | 'graphql' | 'ws' | 'rpc'>();
    // The demo has no microservice handlers.
    if (type === 'rpc') return true;
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    if (type === 'http') {
      const request = context.switchToHttp().getRequest<DemoRequest>();
      request.user = await this.authenticate(context, request);
      return true;
    }
    try {
      if (type === 'graphql') {
        // Once per operation: its later fields find the user (and SessionGuard its mark) on the request.
        const request = context.getArgByIndex<{ req: DemoRequest & { res?: unknown } }>(2).req;
        request.user ??= await this.authenticate(httpContextOf(context, request, request.res), request);
      } else {
        const client = context.switchToWs().getClient<Socket>();
        // A view of the handshake request per message: SessionGuard marks the request it let in, and
        // the handshake request lives as long as the socket, so the session is checked every time.
        const request = Object.create(client.request) as DemoRequest;
        try {
          // Assigned only once authenticated: messages of one socket are checked concurrently, and
          // one still between its guards must keep finding the user (its tenant) on the socket.
          client.data.user = await this.authenticate(httpContextOf(context, request, undefined), request);
        } catch (error) {
          // A session ended meanwhile: the socket's later messages find no user either.
          client.data.user = undefined;
          throw error;
        }
      }
    } catch (error) {
      throw this.refusal(context, error);
    }
    return true;
  }

  private authenticate(context: ExecutionContext, request: DemoRequest): Promise<AuthUser> {
    return this.hasSessionCredential(request) ? this.fromSession(context, request) : this.fromHeader(context, request);
  }

  /** A refusal as a GraphQL operation's or a socket's error: the library's code, or the demo's 401 / 403 by name. */
  private refusal(context: ExecutionContext, error: unknown): unknown {
    if (error instanceof CoordinationHttpException || error instanceof CoordinationBadRequestException) return this.exceptions.map(context, error.error);
    if (error instanceof HttpException) {
      const code = error.getStatus() === 401 ? 'UNAUTHENTICATED' : error.getStatus() === 403 ? 'FORBIDDEN' : 'BAD_REQUEST';
      return this.exceptions.of(context, { code, message: error.message });
    }
    return this.exceptions.map(context, error);
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
