import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AuthUser } from './auth-user.model.js';

/**
 * The user `DemoAuthGuard` authenticated for this request.
 *
 * @example
 * @Get()
 * list(@CurrentUser() user: AuthUser) { return this.crews.listFor(user.companyId); }
 */
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): AuthUser => {
  return context.switchToHttp().getRequest<{ user: AuthUser }>().user;
});
