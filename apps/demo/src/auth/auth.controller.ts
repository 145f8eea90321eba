import { Body, Controller, Header, HttpCode, HttpStatus, ParseBoolPipe, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { RateLimit, SessionCookies, SessionService, TenantOptional, type CookieResponseLike } from '@nest-coordination/core';
import { CompaniesService } from '../companies/companies.service.js';
import type { AuthUser } from './auth-user.model.js';
import { presentedSessionIds } from './credentials.js';
import { CurrentUser } from './current-user.decorator.js';
import type { DemoRequest } from './demo-auth.guard.js';
import { LoginDto } from './dto/login.dto.js';
import { memberOf } from './membership.js';
import { Public } from './public.decorator.js';
import { SameOriginJsonGuard } from './same-origin-json.guard.js';
import { SameOriginGuard } from './same-origin.guard.js';

/** Longest user agent kept in a session's metadata (shown by `GET /sessions`). */
const MAX_USER_AGENT_LENGTH = 256;

/** What `POST /auth/login` answers. */
export interface LoginResult {
  /**
   * The session id, only when asked for (`?token=true`), for scripts: send it as
   * `Authorization: Bearer <token>`. A secret, like the cookie (which holds the same id, signed):
   * whoever has it is the user until the session ends. Never in a default answer, which
   * browser JavaScript reads: the httpOnly cookie would then protect nothing.
   */
  token?: string;
  /** The session's non-secret reference, as `GET /sessions` lists it. */
  handle: string;
  userId: string;
  companyId: string;
  /** When the session idles out unless used (each request pushes it back). */
  expiresAt: string;
  /** When the session ends however busy. */
  absoluteExpiresAt: string;
}

/**
 * Logging in and out: sessions of `SessionService`, carried by the signed, httpOnly `demo.sid`
 * cookie (`SessionCookies`) or as a bearer token.
 *
 * @example
 * // POST /auth/login {"userId":"u-ada","companyId":"acme"} → 201 Set-Cookie: demo.sid=…; {"handle":"…","userId":"u-ada",…}
 * // POST /auth/login?token=true (a script) → 201 {"token":"acme.…","handle":"…",…}
 * // POST /auth/logout (with the cookie or Authorization: Bearer <token>, live or not; not cross-site) → 204, the cookie cleared
 * // POST /auth/logout-everywhere → {"ended":2}
 */
@Controller('auth')
export class AuthController {
  constructor(private readonly sessions: SessionService, private readonly cookies: SessionCookies, private readonly companies: CompaniesService) {}

  /**
   * Starts a session of a seeded user in their company: sets the cookie and answers 201 with the
   * session's handle and expiries, and with the bearer token only for `?token=true` (scripts).
   * **The demo has no passwords**: naming a seeded user and their own company is enough. A real
   * application checks a credential here (password, SSO, magic link) before creating the
   * session. Unknown user 401, another company 403, as for the `x-user-id` header.
   *
   * `@Public()` (no user yet), `@TenantOptional()` (the company is in the body) and limited to
   * 20 logins a minute per client IP (behind a proxy: see `TRUSTED_PROXIES`). A cross-site
   * request is 403 and a body other than JSON 415 (SameOriginJsonGuard, against login CSRF).
   * Every login gets a new session id (nothing a client sent is reused, so a planted id cannot
   * be fixated); a session the client already had stays live until it idles out or is ended
   * (`GET /sessions` lists it).
   */
  @Public()
  @TenantOptional()
  @RateLimit([{ scope: 'ip', name: 'login-ip', limit: 20, windowMs: 60_000 }])
  @UseGuards(SameOriginJsonGuard)
  @Post('login')
  @Header('Cache-Control', 'no-store')
  async login(
    @Body() body: LoginDto,
    @Query('token', new ParseBoolPipe({ optional: true })) withToken: boolean | undefined,
    @Req() request: DemoRequest,
    @Res({ passthrough: true }) response: CookieResponseLike,
  ): Promise<LoginResult> {
    const user = memberOf(this.companies, body.userId, body.companyId);
    const userAgent = request.headers['user-agent'];
    const session = await this.sessions.create(user.id, {}, {
      tenant: user.companyId,
      companyId: user.companyId,
      metadata: typeof userAgent === 'string' ? { userAgent: userAgent.slice(0, MAX_USER_AGENT_LENGTH) } : {},
    });
    this.cookies.issue(response, session);
    return {
      ...(withToken === true ? { token: session.id } : {}),
      handle: session.handle,
      userId: user.id,
      companyId: user.companyId,
      expiresAt: session.expiresAt.toISOString(),
      absoluteExpiresAt: session.absoluteExpiresAt.toISOString(),
    };
  }

  /**
   * Ends the session of the cookie and of the bearer token the request presents (on every
   * instance: it is gone from Redis), and always clears the cookie; 204. It needs no live
   * session (`@Public()`, `@TenantOptional()`): with an expired, ended or forged cookie, or none,
   * there is nothing to end, and the answer still clears the cookie, which would otherwise stay
   * in the browser until its Max-Age. A session of another company than the `x-company-id`
   * sent is not found, as everywhere, and stays live. A cross-site request is 403 and ends or
   * clears nothing (SameOriginGuard): a page of another site cannot sign the user out.
   */
  @Public()
  @TenantOptional()
  @UseGuards(SameOriginGuard)
  @Post('logout')
  @HttpCode(HttpStatus.NO_CONTENT)
  async logout(@Req() request: DemoRequest, @Res({ passthrough: true }) response: CookieResponseLike): Promise<void> {
    for (const id of presentedSessionIds(request, this.cookies)) await this.sessions.destroy(id);
    this.cookies.clear(response);
  }

  /**
   * Ends **every** session of the caller in their company, the current one included, and clears
   * the cookie: the "I lost my laptop" button, after which every device (this one too) logs in
   * again. Keeping the current session would leave it live if it is the stolen one.
   * `{ ended }` counts the sessions ended. Also open to the `x-user-id` header, so that a
   * script can sign a user out everywhere. Not cross-site (SameOriginGuard), like logout.
   */
  @UseGuards(SameOriginGuard)
  @Post('logout-everywhere')
  @HttpCode(HttpStatus.OK)
  async logoutEverywhere(@CurrentUser() user: AuthUser, @Res({ passthrough: true }) response: CookieResponseLike): Promise<{ ended: number }> {
    const ended = await this.sessions.destroyAllForUser(user.id, { tenant: user.companyId });
    this.cookies.clear(response);
    return { ended };
  }
}
