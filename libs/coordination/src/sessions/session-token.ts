import type { CookieRequestLike, SessionCookies } from './session-cookies.js';

/**
 * A session credential a request presents: the signed cookie, or an `Authorization: Bearer <id>`
 * header. `id` is null when the credential is there but unusable (a cookie no secret verifies,
 * an empty bearer token): such a request is not anonymous, its session is simply not found.
 *
 * @example
 * const token: SessionToken = { source: 'bearer', id: 'acme.AAAAAAAAAAAAAAAAAAAAAA000' };
 */
export interface SessionToken {
  readonly source: 'cookie' | 'bearer';
  readonly id: string | null;
}

/** `Bearer` (any case), one or more spaces, the token (possibly empty, trailing spaces trimmed). */
const BEARER = /^bearer(?:[ \t]+(.*))?$/is;

/**
 * The session credentials a request presents, in the order to try them: the cookie's verified
 * ids (with `sessions.cookie.secret` configured; one token per value sent under its name, in the
 * order sent, or a single token of id null when no value verifies), then the
 * `Authorization: Bearer` token when `bearer` (`sessions.bearer`) is on. Empty for an anonymous
 * request. The first that names a live session wins, so neither a tossed duplicate cookie nor a
 * dead or foreign cookie left in a browser blocks the genuine one or the bearer token a client
 * sends explicitly. A header of another scheme (Basic, ...) is not a session credential: it is
 * ignored.
 *
 * @example
 * const tokens = sessionTokensOf(request, cookies, options.bearer);
 * if (tokens.length === 0) throw new SessionRequiredError('...');
 */
export function sessionTokensOf(request: CookieRequestLike, cookies: SessionCookies, bearer: boolean): SessionToken[] {
  const tokens: SessionToken[] = [];
  const cookie = cookies.read(request);
  if (cookie.present) {
    if (cookie.ids.length === 0) tokens.push({ source: 'cookie', id: null });
    for (const id of cookie.ids) tokens.push({ source: 'cookie', id });
  }
  const id = bearer ? bearerTokenOf(request) : undefined;
  if (id !== undefined) tokens.push({ source: 'bearer', id });
  return tokens;
}

/** The token of an `Authorization: Bearer` header: undefined without one, null when empty. */
function bearerTokenOf(request: CookieRequestLike): string | null | undefined {
  const raw = request.headers?.authorization;
  const header = Array.isArray(raw) ? raw[0] : raw;
  const match = header === undefined ? null : BEARER.exec(header.trim());
  if (!match) return undefined;
  const id = match[1]?.trim() ?? '';
  return id === '' ? null : id;
}
