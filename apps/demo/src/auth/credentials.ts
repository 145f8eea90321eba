import type { SessionCookies } from '@nest-coordination/core';

/** The headers of a request, as Node parses them. */
export interface HeadersLike {
  headers: Record<string, string | string[] | undefined>;
}

/**
 * The first value of a request header (Node joins most repeated headers; a few stay arrays).
 *
 * @example
 * firstHeader(request, 'x-user-id'); // 'u-ada', or undefined when not sent
 */
export function firstHeader(request: HeadersLike, name: string): string | undefined {
  const raw = request.headers[name];
  return Array.isArray(raw) ? raw[0] : raw;
}

/**
 * Whether `Authorization` names the Bearer scheme, with or without a token (an empty one is
 * still a session credential, which SessionGuard refuses).
 *
 * @example
 * hasBearer({ headers: { authorization: 'Bearer acme.…' } }); // true
 */
export function hasBearer(request: HeadersLike): boolean {
  return /^bearer(\s|$)/i.test(firstHeader(request, 'authorization')?.trim() ?? '');
}

/**
 * The session ids a request presents, unverified against the store: the signed cookie's (every
 * value sent under its name whose signature checks out) and the bearer token, without repeats. What `POST /auth/logout`
 * ends, whether or not the sessions are still live.
 *
 * @example
 * for (const id of presentedSessionIds(request, cookies)) await sessions.destroy(id);
 */
export function presentedSessionIds(request: HeadersLike, cookies: SessionCookies): string[] {
  const ids = new Set<string>();
  const cookie = cookies.read(request);
  for (const id of cookie.present ? cookie.ids : []) ids.add(id);
  const bearer = hasBearer(request) ? firstHeader(request, 'authorization')!.trim().slice('bearer'.length).trim() : '';
  if (bearer !== '') ids.add(bearer);
  return [...ids];
}
