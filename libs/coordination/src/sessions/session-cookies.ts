import { Inject, Injectable } from '@nestjs/common';
import { serialize, type SerializeOptions } from 'cookie';
import { sign, unsign } from 'cookie-signature';
import { CoordinationCore } from '../core/coordination-core.js';
import { InvalidArgumentError, InvalidOptionsError } from '../errors/coordination.error.js';
import { kindOf } from '../keys/key-builder.js';
import { SESSION_OPTIONS, type ResolvedSessionCookieOptions, type ResolvedSessionOptions } from './session.options.js';
import { LONE_SURROGATE } from './session-validation.js';
import type { Session } from './session.types.js';

/** Prefix of a signed value, as express-session and cookie-parser write it. */
const SIGNED = 's:';

/**
 * What the session cookie of a request holds: no cookie (or cookies are off: no
 * `sessions.cookie.secret`), or a cookie whose `ids` are the verified session ids of every value
 * sent under its name, in the order sent (empty when no configured secret verifies any: tampered,
 * or signed with a retired secret), and `id` the first of them (null when none). A browser sends
 * the name several times when cookies of different paths or domains match, one maybe tossed by a
 * sibling subdomain: try every id (as SessionGuard does), never `id` alone, or a tossed, validly
 * signed cookie (its owner's own session) placed first hides the genuine one.
 *
 * @example
 * const cookie = cookies.read(request);
 * if (cookie.present && cookie.ids.length === 0) logger.warn('a forged or outdated session cookie');
 * for (const id of cookie.present ? cookie.ids : []) { const session = await sessions.get(id); if (session) return session; }
 */
export type SessionCookieValue =
  | { readonly present: false }
  | { readonly present: true; readonly id: string | null; readonly ids: readonly string[] };

/**
 * The parts of a request SessionCookies reads (an Express or Node request fits).
 *
 * @example
 * cookies.read({ headers: { cookie: 'sid=s%3A...' } });
 */
export interface CookieRequestLike {
  headers?: Record<string, string | string[] | undefined>;
}

/**
 * The parts of a response SessionCookies writes: Express's `append`, else Node's `getHeader`/`setHeader`.
 *
 * @example
 * @Post('logout') logout(@Res({ passthrough: true }) response: CookieResponseLike) { this.cookies.clear(response); }
 */
export interface CookieResponseLike {
  append?(name: string, value: string): unknown;
  getHeader?(name: string): number | string | string[] | undefined;
  setHeader?(name: string, value: string | string[]): unknown;
}

const ABSENT: SessionCookieValue = Object.freeze({ present: false });

/**
 * Writes and reads the session cookie (`sessions.cookie`): always httpOnly, signed with
 * HMAC-SHA256 in cookie-signature's `s:<id>.<signature>` format (what express-session and
 * cookie-parser write), verified against every configured secret so that a secret can be rotated
 * by putting the new one first. `issue` sets it to last until the session's absolute expiry (the
 * idle expiry is the server's to enforce), `clear` removes it. Cookies need
 * `sessions.cookie.secret`; without one `issue` throws and `read` sees no cookie.
 *
 * @example
 * @Post('login')
 * async login(@Body() body: LoginDto, @Res({ passthrough: true }) res: Response) {
 *   const session = await this.sessions.create(body.userId, {}, { companyId: body.companyId });
 *   this.cookies.issue(res, session);
 *   return { userId: session.userId };
 * }
 */
@Injectable()
export class SessionCookies {
  private readonly cookie: ResolvedSessionCookieOptions;
  private readonly attributes: SerializeOptions;

  constructor(@Inject(SESSION_OPTIONS) options: ResolvedSessionOptions, private readonly core: CoordinationCore) {
    this.cookie = options.cookie;
    const { secure, sameSite, path, domain } = this.cookie;
    this.attributes = Object.freeze({ httpOnly: true, secure, sameSite, path, ...(domain === undefined ? {} : { domain }) });
  }

  /** The cookie's name (`sessions.cookie.name`). */
  get name(): string {
    return this.cookie.name;
  }

  /** Whether cookies are configured (a `sessions.cookie.secret`). */
  get enabled(): boolean {
    return this.cookie.secrets.length > 0;
  }

  /** Sets the signed session cookie on `response`, until the session's absolute expiry. */
  issue(response: CookieResponseLike, session: Pick<Session, 'id' | 'absoluteExpiresAt'>): void {
    if (typeof session !== 'object' || session === null) throw new InvalidArgumentError('session', `must be a session, got ${kindOf(session)}`);
    const expiry: unknown = session.absoluteExpiresAt;
    if (!(expiry instanceof Date) || Number.isNaN(expiry.getTime())) {
      throw new InvalidArgumentError('session.absoluteExpiresAt', `must be a valid Date, got ${expiry instanceof Date ? 'an invalid Date' : kindOf(expiry)}`);
    }
    // Session ids are base64url; any other string must at least survive the cookie's URI encoding.
    if (typeof session.id !== 'string' || LONE_SURROGATE.test(session.id)) {
      throw new InvalidArgumentError('session.id', typeof session.id === 'string' ? 'must be well-formed Unicode (a lone surrogate cannot be URI-encoded)' : `must be a string, got ${kindOf(session.id)}`);
    }
    const until = expiry.getTime();
    const maxAge = Math.max(0, Math.floor((until - this.core.clock.now()) / 1000));
    appendSetCookie(response, serialize(this.cookie.name, this.sign(session.id), { ...this.attributes, maxAge, expires: new Date(until) }));
  }

  /** Tells the client to drop the session cookie (same name, path and domain, expired). */
  clear(response: CookieResponseLike): void {
    appendSetCookie(response, serialize(this.cookie.name, '', { ...this.attributes, maxAge: 0, expires: new Date(0) }));
  }

  /**
   * The session cookie of `request`, verified: every value a secret verifies, in the order the
   * client sent them (junk ones are left out, so they never hide the genuine one). Which of
   * several live ones is used is the caller's choice (SessionGuard: the first live one); a
   * `__Host-` name (see SessionCookieModuleOptions.name) keeps other subdomains from setting the
   * cookie at all, so that only this host's own cookie is ever sent.
   */
  read(request: CookieRequestLike): SessionCookieValue {
    if (!this.enabled) return ABSENT;
    const header = cookieHeader(request);
    if (!header) return ABSENT;
    const values = cookieValues(header, this.cookie.name);
    if (values.length === 0) return ABSENT;
    const ids = values.map((value) => this.verify(value)).filter((id) => id !== null);
    return { present: true, id: ids[0] ?? null, ids };
  }

  /** `s:<value>.<signature>` with the first secret. */
  sign(value: string): string {
    if (!this.enabled) {
      throw new InvalidOptionsError('Session cookies need sessions.cookie.secret (at least 32 characters)', [
        { option: 'sessions.cookie.secret', reason: 'is required to sign session cookies' },
      ]);
    }
    if (typeof value !== 'string') throw new InvalidArgumentError('value', `must be a string, got ${kindOf(value)}`);
    return SIGNED + sign(value, this.cookie.secrets[0]);
  }

  /** The value a signed cookie value carries, when one of the secrets verifies it; else null. */
  verify(signed: string): string | null {
    if (typeof signed !== 'string') throw new InvalidArgumentError('signed', `must be a string, got ${kindOf(signed)}`);
    if (!signed.startsWith(SIGNED)) return null;
    const input = signed.slice(SIGNED.length);
    for (const secret of this.cookie.secrets) {
      const value = unsign(input, secret);
      if (value !== false) return value;
    }
    return null;
  }
}

/**
 * The Cookie header of `request` as one string ('' without one); Node gives a string, a framework
 * may give an array of them. Anything else is a caller's mistake, refused naming what was wrong.
 */
function cookieHeader(request: CookieRequestLike): string {
  if (typeof request !== 'object' || request === null) throw new InvalidArgumentError('request', `must be an HTTP request, got ${kindOf(request)}`);
  const raw: unknown = request.headers?.cookie;
  if (raw === undefined || typeof raw === 'string') return raw ?? '';
  if (Array.isArray(raw) && raw.every((value) => typeof value === 'string')) return raw.join('; ');
  throw new InvalidArgumentError('request.headers.cookie', `must be a string or an array of strings, got ${kindOf(raw)}`);
}

/**
 * Every value of the cookie `name` in a `Cookie` header, in the order the client sent them
 * (`cookie.parse` keeps only the first): unquoted and percent-decoded as `cookie.parse` does.
 */
function cookieValues(header: string, name: string): string[] {
  const values: string[] = [];
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    values.push(decode(value));
  }
  return values;
}

function decode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Whether SessionCookies can write cookies on `response` (Express's `append`, or Node's `setHeader`).
 *
 * @example
 * if (isCookieResponse(response)) cookies.clear(response);
 */
export function isCookieResponse(response: unknown): response is CookieResponseLike {
  const candidate = response as CookieResponseLike | null | undefined;
  return typeof candidate?.append === 'function' || typeof candidate?.setHeader === 'function';
}

/** Adds one `Set-Cookie` header, keeping those already set (Express's `append`, else get + set). */
function appendSetCookie(response: CookieResponseLike, value: string): void {
  if (typeof response !== 'object' || response === null) throw new InvalidArgumentError('response', `must be an HTTP response, got ${kindOf(response)}`);
  if (typeof response.append === 'function') {
    response.append('Set-Cookie', value);
    return;
  }
  if (typeof response.setHeader !== 'function') {
    throw new InvalidArgumentError('response', 'must be an HTTP response (append, or getHeader and setHeader)');
  }
  const existing = response.getHeader?.('Set-Cookie');
  if (existing !== undefined && typeof existing !== 'string' && typeof existing !== 'number' && !Array.isArray(existing)) {
    throw new InvalidArgumentError('response', `getHeader('Set-Cookie') must return a string, a number or an array, got ${kindOf(existing)}`);
  }
  const values = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  response.setHeader('Set-Cookie', [...values, value]);
}
