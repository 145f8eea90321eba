import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { SessionRequiredError } from './session.errors.js';
import { endpointOf, refusal, type SessionRequest } from './session.guard.js';
import type { Session } from './session.types.js';

/**
 * The session the SessionGuard loaded for this request, or one of its fields
 * (`@CurrentSession('data')`, `@CurrentSession('userId')`). On a route no SessionGuard ran for,
 * it refuses the request (SessionRequiredError, 401) rather than hand the handler `undefined`.
 *
 * @example
 * @UseGuards(SessionGuard)
 * @Get('me')
 * me(@CurrentSession() session: Session<{ theme: string }>, @CurrentSession('data') data: { theme: string }) {
 *   return { userId: session.userId, theme: data.theme };
 * }
 */
export const CurrentSession = createParamDecorator((field: keyof Session | undefined, context: ExecutionContext): unknown => {
  const http = context.getType() === 'http' ? context.switchToHttp() : undefined;
  const session = http?.getRequest<SessionRequest>().coordinationSession;
  if (session === undefined) {
    const error = new SessionRequiredError(`${endpointOf(context)} reads @CurrentSession() but no SessionGuard ran for it (add @UseGuards(SessionGuard))`);
    throw http ? refusal(http.getResponse(), error) : error;
  }
  return field === undefined ? session : session[field];
});
