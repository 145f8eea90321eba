import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { InvalidArgumentError, InvalidKeyError, TenantInvalidError, type CoordinationError } from '../errors/coordination.error.js';
import { CoordinationHttpException, asHttpException } from '../http/coordination-http.exception.js';
import { sessionChallengeOf } from '../http/http-status.js';
import { AUTHENTICATED_TENANT } from '../tenancy/tenant-resolver.js';
import { SessionCookies, isCookieResponse } from './session-cookies.js';
import { sessionTokensOf, type SessionToken } from './session-token.js';
import { SessionNotFoundError, SessionRequiredError } from './session.errors.js';
import { SESSION_OPTIONS, type ResolvedSessionOptions } from './session.options.js';
import { SessionService } from './session.service.js';
import type { Session } from './session.types.js';

/** The guard classes that admitted a request (so a second guard of the same class skips the work). */
const ADMITTED_BY = Symbol('sessionGuardAdmittedBy');

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
 * `sessions.bearer`). Every credential is tried in order until one names a live session: each
 * verified value of the cookie (a browser sends the name several times when cookies of several
 * paths or domains match; the first live one wins, so a tossed cookie of a dead session never
 * hides the genuine one, and a `__Host-` name keeps sibling subdomains from tossing one at all),
 * then the bearer token (a dead or foreign cookie left in a browser never blocks an explicit
 * token). It loads the session with `SessionService.get` (which slides its idle expiry when
 * `sessions.sliding`), attaches it to `request.coordinationSession` (`@CurrentSession()`), and
 * makes the handler run in the session's tenant: TenantResolver prefers it over the header,
 * `tenancy.userProperty` and `tenancy.resolver` (see AUTHENTICATED_TENANT); a session created
 * outside any tenant runs its handler without one. A request that already names another tenant
 * (the tenant header or resolver, through TenantMiddleware) does not find the session.
 *
 * Refusals are 401s with a problem details body, with or without CoordinationExceptionFilter
 * (which sends them as `application/problem+json`; without it Nest sends the same body as JSON):
 * no credential → SessionRequiredError (E_SESSION_REQUIRED); a signature no secret verifies, a
 * malformed, unknown, expired or other tenant's id → SessionNotFoundError (E_SESSION_NOT_FOUND),
 * the same answer for each, never echoing the id. With `sessions.bearer` the 401 carries the
 * `WWW-Authenticate: Bearer` challenge (`Bearer error="invalid_token"` when the request sent a
 * bearer token that was refused); with cookies only it carries none (no standard scheme names a
 * cookie session). Redis unreachable → RedisUnavailableError (503). Register it before guards
 * that read the tenant (RateLimitGuard's `tenant` scope). HTTP only: in another context it
 * refuses (SessionRequiredError).
 *
 * A session cookie no secret verifies (forged, or signed with a retired secret) is cleared (an
 * expired `Set-Cookie`), on the 401 and also when the bearer token let the request in, so that
 * the browser stops sending it. A verified cookie is never cleared here, even when its session
 * is gone: a request still in flight with the old cookie must not delete the cookie a login or
 * `regenerate` has just issued, and a subclass refusing a live session must not log its user out
 * of the whole application. Logout clears the cookie (`SessionCookies.clear`); otherwise it
 * expires with the session's absolute lifetime.
 *
 * A subclass can narrow who gets in (override `load` to answer null, or `canActivate`); each
 * guard class on a route decides for itself, and only a second guard of the same class skips
 * the work (no second load, no second slide).
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
    const request = http.getRequest<SessionRequest & { [AUTHENTICATED_TENANT]?: string; [ADMITTED_BY]?: Set<Function> }>();
    // A second guard of this class on the same request (global and per controller) neither reloads nor slides again;
    // a guard of another class (a subclass with its own rule) decides for itself.
    if (request[ADMITTED_BY]?.has(this.constructor)) return true;
    const tokens = sessionTokensOf(request, this.cookies, this.options.bearer);
    const response: unknown = http.getResponse();
    if (tokens.length === 0) throw this.refuse(response, new SessionRequiredError(`${endpoint} needs ${this.credentials()}`), false);
    const found = await this.firstLive(tokens).catch((error: unknown) => {
      throw asHttpException(error);
    });
    // Only now is the outcome known: nothing is written on the response before (a later credential may succeed).
    const cookies = tokens.filter((t) => t.source === 'cookie');
    if (found?.token.source !== 'cookie' && cookies.length > 0 && cookies.every((t) => t.id === null) && isCookieResponse(response)) {
      // A cookie no secret verifies is only sent again and again: tell the browser to drop it.
      this.cookies.clear(response);
    }
    if (found === null) throw this.refuse(response, new SessionNotFoundError(endpoint), tokens.some((t) => t.source === 'bearer'));
    request.coordinationSession = found.session;
    request[AUTHENTICATED_TENANT] = found.session.tenant;
    (request[ADMITTED_BY] ??= new Set()).add(this.constructor);
    return true;
  }

  /** The first credential (in order: cookie values, then the bearer token) naming a live session, with it; or null. */
  protected async firstLive(tokens: readonly SessionToken[]): Promise<{ token: SessionToken; session: Session } | null> {
    for (const token of tokens) {
      const session = token.id === null ? null : await this.load(token.id);
      if (session !== null) return { token, session };
    }
    return null;
  }

  /** The 401 refusing the request, after writing its `WWW-Authenticate` challenge (see sessionChallengeOf). */
  private refuse(response: unknown, error: CoordinationError, refusedBearer: boolean): CoordinationHttpException {
    return refusal(response, error, sessionChallengeOf({ bearer: this.options.bearer, refusedBearer }));
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
 * problem body, carrying `headers`), after writing `headers` (SessionGuard's `WWW-Authenticate`
 * challenge) on `response`: Nest's own exception handler, used without
 * CoordinationExceptionFilter, writes only the status and the body.
 *
 * @example
 * throw refusal(context.switchToHttp().getResponse(), new SessionRequiredError('MeController.me needs a session'));
 */
export function refusal(response: unknown, error: CoordinationError, headers: Readonly<Record<string, string>> = {}): CoordinationHttpException {
  const exception = new CoordinationHttpException(error, undefined, headers);
  const target = response as { setHeader?(name: string, value: string): unknown; header?(name: string, value: string): unknown } | undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (typeof target?.setHeader === 'function') target.setHeader(name, value);
    else if (typeof target?.header === 'function') target.header(name, value);
  }
  return exception;
}

/** `Controller.handler`, naming the route in errors. */
export function endpointOf(context: ExecutionContext): string {
  return `${context.getClass().name}.${context.getHandler().name}`;
}
