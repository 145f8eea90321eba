import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AuthUser } from './auth-user.model.js';

/**
 * The user `DemoAuthGuard` authenticated for this request, GraphQL operation or socket message:
 * `request.user`, the GraphQL request's `req.user`, or the socket's `client.data.user`.
 *
 * @example
 * @Get()
 * list(@CurrentUser() user: AuthUser) { return this.crews.listFor(user.companyId); }
 *
 * @example
 * @SubscribeMessage('crew.subscribe')
 * subscribe(@CurrentUser() user: AuthUser, @MessageBody() body: unknown) { ... }
 */
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): AuthUser => {
  switch (context.getType<'http' | 'graphql' | 'ws'>()) {
    case 'graphql':
      return context.getArgByIndex<{ req: { user: AuthUser } }>(2).req.user;
    case 'ws':
      return context.switchToWs().getClient<{ data: { user: AuthUser } }>().data.user;
    default:
      return context.switchToHttp().getRequest<{ user: AuthUser }>().user;
  }
});

/**
 * The company (tenant) of a socket.io client: its authenticated user's, which `DemoAuthGuard` puts
 * on `client.data.user` for every message. The demo's `tenancy.resolvers.ws`.
 *
 * @example
 * CoordinationModule.forRoot({ tenancy: { header: 'x-company-id', required: true, resolvers: { ws: companyOfSocket } } });
 */
export function companyOfSocket(client: { data?: { user?: AuthUser } }): string | undefined {
  return client.data?.user?.companyId;
}
