import type { CookieRequestLike, SessionCookies } from './session-cookies.js';

/**
 * Where a request carries its session id, if anywhere: the signed cookie, else an
 * `Authorization: Bearer <id>` header. `id` is null when the credential is there but unusable
 * (a cookie no secret verifies, an empty bearer token): such a request is not anonymous, its
 * session is simply not found.
 */
export type SessionToken = { readonly source: 'none' } | { readonly source: 'cookie' | 'bearer'; readonly id: string | null };

const NONE: SessionToken = Object.freeze({ source: 'none' });
/** `Bearer` (any case), one or more spaces, the token (possibly empty, trailing spaces trimmed). */
const BEARER = /^bearer(?:[ \t]+(.*))?$/is;

/**
 * The session id a request presents. The cookie decides when there is one (with
 * `sessions.cookie.secret` configured), whatever the header says; the `Authorization: Bearer`
 * header is read when `bearer` (`sessions.bearer`) is on. A header of another scheme (Basic, ...)
 * is not a session credential: it is ignored.
 *
 * @example
 * const token = sessionTokenOf(request, cookies, options.bearer);
 * if (token.source === 'none') throw new SessionRequiredError('...');
 */
export function sessionTokenOf(request: CookieRequestLike, cookies: SessionCookies, bearer: boolean): SessionToken {
  const cookie = cookies.read(request);
  if (cookie.present) return { source: 'cookie', id: cookie.id };
  if (!bearer) return NONE;
  const raw = request.headers?.authorization;
  const header = Array.isArray(raw) ? raw[0] : raw;
  const match = header === undefined ? null : BEARER.exec(header.trim());
  if (!match) return NONE;
  const id = match[1]?.trim() ?? '';
  return { source: 'bearer', id: id === '' ? null : id };
}
