import { ForbiddenException, Injectable, UnsupportedMediaTypeException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { firstHeader, type HeadersLike } from './credentials.js';
import { isCrossSite } from './same-origin.guard.js';

/**
 * Refuses what a page of another site can make a browser send, on a route that sets the session
 * cookie (`POST /auth/login`): against login CSRF, where a cross-site form logs the victim into
 * the attacker's account (`SameSite=Lax` does not stop it: the form's top-level navigation
 * stores the cookie it gets back).
 *
 * - **Cross-site** → 403, before the handler (no session, no `Set-Cookie`): the rule of
 *   SameOriginGuard (`Sec-Fetch-Site`, else `Origin` against `Host`; scripts pass).
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

/** The media type of a `Content-Type` header, without parameters, lower-cased. */
function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0].trim().toLowerCase();
}
