import type { ExecutionContext } from '@nestjs/common';

/**
 * `context` seen as an HTTP request's: the request behind a GraphQL operation, or a socket's
 * handshake request, handed to what reads HTTP requests only (the library's `SessionGuard`).
 * Class and handler stay the handler's, so messages name it.
 *
 * @example
 * await sessionGuard.canActivate(httpContextOf(context, graphqlRequest, graphqlRequest.res));
 */
export function httpContextOf(context: ExecutionContext, request: unknown, response: unknown): ExecutionContext {
  const args = [request, response];
  const http = { getRequest: () => request, getResponse: () => response, getNext: () => undefined };
  return {
    getType: () => 'http',
    getClass: () => context.getClass(),
    getHandler: () => context.getHandler(),
    getArgs: () => args,
    getArgByIndex: (index: number) => args[index],
    switchToHttp: () => http,
    switchToRpc: () => context.switchToRpc(),
    switchToWs: () => context.switchToWs(),
  } as ExecutionContext;
}
