import { ForbiddenException, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { firstHeader, type HeadersLike } from './credentials.js';

/**
 * Refuses, with 403 before the handler, a request a page of another site made a browser send,
 * on a cookie-authenticated route with an effect a cross-site form must not trigger: logging in
 * (login CSRF, see SameOriginJsonGuard) and logging out (a cross-site form would sign the victim
 * out; `SameSite=Lax` does not stop a top-level form post). No cookie is set or cleared.
 *
 * A browser's `Sec-Fetch-Site` decides when sent: `same-origin` and `none` (the user's own
 * navigation) pass, `same-site` and `cross-site` do not. Without it (older browsers), an `Origin`
 * header that is not the request's own scheme-less `Host` (or is `null`) is refused. A request
 * with neither is not a modern browser's cross-site request: scripts (curl) pass. Behind a proxy
 * the `Host` must reach the demo unchanged for the `Origin` fallback.
 *
 * @example
 * @UseGuards(SameOriginGuard)
 * @Post('logout')
 * logout(@Req() request: DemoRequest) { ... }
 */
@Injectable()
export class SameOriginGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    if (isCrossSite(context.switchToHttp().getRequest<HeadersLike>())) throw new ForbiddenException('Cross-site requests are refused here');
    return true;
  }
}

/**
 * Whether a browser sent the request from a page of another origin (see SameOriginGuard).
 *
 * @example
 * isCrossSite({ headers: { 'sec-fetch-site': 'cross-site' } }); // true
 */
export function isCrossSite(request: HeadersLike): boolean {
  const fetchSite = firstHeader(request, 'sec-fetch-site')?.trim().toLowerCase();
  if (fetchSite !== undefined && fetchSite !== '') return fetchSite !== 'same-origin' && fetchSite !== 'none';
  const origin = firstHeader(request, 'origin')?.trim();
  if (origin === undefined || origin === '') return false;
  const host = firstHeader(request, 'host')?.trim().toLowerCase();
  return host === undefined || hostOf(origin) !== host;
}

/** `host[:port]` of an `Origin` header, or undefined for `null` and anything unparsable. */
function hostOf(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.host.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}
