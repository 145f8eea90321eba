import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { InvalidArgumentError, InvalidKeyError, TenantInvalidError } from '../errors/coordination.error.js';
import { AUTHENTICATED_TENANT } from '../tenancy/tenant-resolver.js';
import { SessionCookies } from './session-cookies.js';
import { sessionTokenOf } from './session-token.js';
import { SessionNotFoundError, SessionRequiredError } from './session.errors.js';
import { SESSION_OPTIONS, type ResolvedSessionOptions } from './session.options.js';
import { SessionService } from './session.service.js';
import type { Session } from './session.types.js';

/**
 * A request a SessionGuard let through: `coordinationSession` is its session (also what
 * `@CurrentSession()` returns).
 *
 * @example
 * @Get('me') me(@Req() req: SessionRequest<{ theme: string }>) { return req.coordinationSession!.data.theme; }
 */
export interface SessionRequest<D extends Record<string, unknown> = Record<string, unknown>> {
  coordinationSession?: Session<D>;
  headers?: Record<string, string | string[] | undefined>;
}

/**
 * Lets a request through only with a live session, read from the signed `sessions.cookie`
 * (with `sessions.cookie.secret`), else from `Authorization: Bearer <id>` (with
 * `sessions.bearer`); when both are sent, the cookie decides. It loads the session with
 * `SessionService.get` (which slides its idle expiry when `sessions.sliding`), attaches it to
 * `request.coordinationSession` (`@CurrentSession()`), and makes the handler run in the session's
 * tenant: TenantResolver prefers it over the header, `tenancy.userProperty` and
 * `tenancy.resolver` (see AUTHENTICATED_TENANT). A request that already names another tenant
 * (the tenant header, through TenantMiddleware) does not find the session.
 *
 * Refusals are 401 problem+json through CoordinationExceptionFilter: no id →
 * SessionRequiredError (E_SESSION_REQUIRED); a signature no secret verifies, a malformed,
 * unknown, expired or other tenant's id → SessionNotFoundError (E_SESSION_NOT_FOUND), the same
 * answer for each, never echoing the id. Redis unreachable → RedisUnavailableError (503).
 * Register it before guards that read the tenant (RateLimitGuard's `tenant` scope). HTTP only:
 * in another context it refuses.
 *
 * @example
 * @UseGuards(SessionGuard)
 * @Controller('crews')
 * class CrewsController {
 *   @Get() list(@CurrentSession('userId') userId: string) { return this.crews.of(userId); }
 * }
 *
 * @example
 * // every route (with @nestjs/core's APP_GUARD)
 * providers: [{ provide: APP_GUARD, useClass: SessionGuard }]
 */
@Injectable()
export class SessionGuard implements CanActivate {
  constructor(
    protected readonly sessions: SessionService,
    protected readonly cookies: SessionCookies,
    @Inject(SESSION_OPTIONS) protected readonly options: ResolvedSessionOptions,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const endpoint = endpointOf(context);
    if (context.getType() !== 'http') throw new SessionRequiredError(`${endpoint}: SessionGuard reads HTTP requests only`);
    const request = context.switchToHttp().getRequest<SessionRequest & { [AUTHENTICATED_TENANT]?: string }>();
    // A second SessionGuard on the same request (global and per controller) neither reloads nor slides again.
    if (request.coordinationSession !== undefined) return true;
    const token = sessionTokenOf(request, this.cookies, this.options.bearer);
    if (token.source === 'none') throw new SessionRequiredError(`${endpoint} needs ${this.credentials()}`);
    const session = token.id === null ? null : await this.load(token.id);
    if (session === null) throw new SessionNotFoundError(endpoint);
    request.coordinationSession = session;
    request[AUTHENTICATED_TENANT] = session.tenant;
    return true;
  }

  /**
   * The live session of a presented id, or null. An id the service refuses as input (a
   * malformed tenant part, ...) is a client's bad credential: not found, like any other.
   */
  protected async load(id: string): Promise<Session | null> {
    try {
      return await this.sessions.get(id);
    } catch (error) {
      if (error instanceof InvalidArgumentError || error instanceof InvalidKeyError || error instanceof TenantInvalidError) return null;
      throw error;
    }
  }

  /** What a request should carry, for the SessionRequiredError message. */
  private credentials(): string {
    const cookie = this.cookies.enabled ? `the "${this.cookies.name}" session cookie` : undefined;
    const bearer = this.options.bearer ? 'an "Authorization: Bearer <session id>" header' : undefined;
    return [cookie, bearer].filter((c) => c !== undefined).join(' or ') || 'a session, but neither cookies (sessions.cookie.secret) nor bearer tokens (sessions.bearer) are configured';
  }
}

/** `Controller.handler`, naming the route in errors. */
export function endpointOf(context: ExecutionContext): string {
  return `${context.getClass().name}.${context.getHandler().name}`;
}
