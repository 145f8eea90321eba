import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { InvalidArgumentError, InvalidKeyError, TenantInvalidError, type CoordinationError } from '../errors/coordination.error.js';
import { CoordinationHttpException, asHttpException } from '../http/coordination-http.exception.js';
import { AUTHENTICATED_TENANT } from '../tenancy/tenant-resolver.js';
import { SessionCookies, isCookieResponse } from './session-cookies.js';
import { sessionTokensOf, type SessionToken } from './session-token.js';
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
 * `sessions.bearer`); when both are sent, the cookie wins if it names a live session, else the
 * bearer token is tried (a dead or foreign cookie left in a browser never blocks an explicit
 * token). It loads the session with `SessionService.get` (which slides its idle expiry when
 * `sessions.sliding`), attaches it to `request.coordinationSession` (`@CurrentSession()`), and
 * makes the handler run in the session's tenant: TenantResolver prefers it over the header,
 * `tenancy.userProperty` and `tenancy.resolver` (see AUTHENTICATED_TENANT); a session created
 * outside any tenant runs its handler without one. A request that already names another tenant
 * (the tenant header, through TenantMiddleware) does not find the session.
 *
 * Refusals are 401s with a problem details body and a `WWW-Authenticate` challenge, with or
 * without CoordinationExceptionFilter (which sends them as `application/problem+json`; without
 * it Nest sends the same body as JSON): no credential → SessionRequiredError
 * (E_SESSION_REQUIRED, `WWW-Authenticate: Bearer`); a signature no secret verifies, a malformed,
 * unknown, expired or other tenant's id → SessionNotFoundError (E_SESSION_NOT_FOUND,
 * `Bearer error="invalid_token"`), the same answer for each, never echoing the id. When the
 * refused request carried the session cookie, the 401 also clears it. Redis unreachable →
 * RedisUnavailableError (503). Register it before guards that read the tenant (RateLimitGuard's
 * `tenant` scope). HTTP only: in another context it refuses (SessionRequiredError).
 *
 * Cookie-authenticated routes rely on the cookie's SameSite attribute against cross-site request
 * forgery: see SessionCookieModuleOptions.sameSite.
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
    const http = context.switchToHttp();
    const request = http.getRequest<SessionRequest & { [AUTHENTICATED_TENANT]?: string }>();
    // A second SessionGuard on the same request (global and per controller) neither reloads nor slides again.
    if (request.coordinationSession !== undefined) return true;
    const tokens = sessionTokensOf(request, this.cookies, this.options.bearer);
    if (tokens.length === 0) throw refusal(http.getResponse(), new SessionRequiredError(`${endpoint} needs ${this.credentials()}`));
    const session = await this.firstLive(tokens).catch((error: unknown) => {
      throw asHttpException(error);
    });
    if (session === null) {
      const response: unknown = http.getResponse();
      // A cookie that lets no one in is only sent again and again: tell the browser to drop it.
      if (tokens[0].source === 'cookie' && isCookieResponse(response)) this.cookies.clear(response);
      throw refusal(response, new SessionNotFoundError(endpoint));
    }
    request.coordinationSession = session;
    request[AUTHENTICATED_TENANT] = session.tenant;
    return true;
  }

  /** The session of the first credential that names a live one (cookie first), or null. */
  protected async firstLive(tokens: readonly SessionToken[]): Promise<Session | null> {
    for (const { id } of tokens) {
      const session = id === null ? null : await this.load(id);
      if (session !== null) return session;
    }
    return null;
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

/**
 * The exception refusing an HTTP request with `error` (CoordinationHttpException: its status and
 * problem body), after writing the headers it needs (the `WWW-Authenticate` challenge of a 401)
 * on `response`: Nest's own exception handler, used without CoordinationExceptionFilter, writes
 * only the status and the body.
 *
 * @example
 * throw refusal(context.switchToHttp().getResponse(), new SessionRequiredError('MeController.me needs a session'));
 */
export function refusal(response: unknown, error: CoordinationError): CoordinationHttpException {
  const exception = new CoordinationHttpException(error);
  const target = response as { setHeader?(name: string, value: string): unknown; header?(name: string, value: string): unknown } | undefined;
  for (const [name, value] of Object.entries(exception.headers)) {
    if (typeof target?.setHeader === 'function') target.setHeader(name, value);
    else if (typeof target?.header === 'function') target.header(name, value);
  }
  return exception;
}

/** `Controller.handler`, naming the route in errors. */
export function endpointOf(context: ExecutionContext): string {
  return `${context.getClass().name}.${context.getHandler().name}`;
}
