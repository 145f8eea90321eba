import { ForbiddenException, Injectable, UnsupportedMediaTypeException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { firstHeader, type HeadersLike } from './credentials.js';

/**
 * Refuses what a page of another site can make a browser send, on a route that sets the session
 * cookie (`POST /auth/login`): against login CSRF, where a cross-site form logs the victim into
 * the attacker's account (`SameSite=Lax` does not stop it: the form's top-level navigation
 * stores the cookie it gets back).
 *
 * - **Cross-site** → 403, before the handler (no session, no `Set-Cookie`). A browser's
 *   `Sec-Fetch-Site` decides when sent: `same-origin` and `none` (the user's own navigation)
 *   pass, `same-site` and `cross-site` do not. Without it (older browsers), an `Origin` header
 *   that is not the request's own scheme-less `Host` (or is `null`) is refused. A request with
 *   neither is not a modern browser's cross-site request: scripts (curl) pass. Behind a proxy
 *   the `Host` must reach the demo unchanged for the `Origin` fallback.
 * - **Not `application/json`** → 415. Forms (`urlencoded`, `multipart`, `text/plain`) are the
 *   bodies a cross-site page can post without a CORS preflight, which the demo never grants.
 *
 * @example
 * @UseGuards(SameOriginJsonGuard)
 * @Post('login')
 * login(@Body() body: LoginDto) { ... }
 */
@Injectable()
export class SameOriginJsonGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<HeadersLike>();
    if (isCrossSite(request)) throw new ForbiddenException('Cross-site requests may not log in');
    if (mediaType(firstHeader(request, 'content-type')) !== 'application/json') {
      throw new UnsupportedMediaTypeException('The body must be application/json');
    }
    return true;
  }
}

/** Whether a browser sent the request from a page of another origin. */
function isCrossSite(request: HeadersLike): boolean {
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

/** The media type of a `Content-Type` header, without parameters, lower-cased. */
function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0].trim().toLowerCase();
}
