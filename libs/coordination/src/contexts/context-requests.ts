import type { ExecutionContext } from '@nestjs/common';

/**
 * The context types besides `http` the library's guard and interceptor handle: GraphQL
 * resolvers (`@nestjs/graphql`), WebSocket message handlers (`@nestjs/websockets`) and
 * microservice message handlers (`@nestjs/microservices`). Read from `context.getType()`, so
 * none of those packages is loaded by the library's core.
 *
 * @example
 * const type = context.getType<HandlerContextType | 'http'>();
 */
export type HandlerContextType = 'graphql' | 'ws' | 'rpc';

/**
 * What the rate-limit guard reads a client from, whatever the context: the HTTP request itself,
 * the HTTP request behind a GraphQL operation, or a view of a socket or an RPC message.
 *
 * @example
 * protected override async getTracker(req: ContextRequest, rule: RateLimitRule, context: ExecutionContext) {
 *   return req.headers?.['x-api-key']?.toString() ?? super.getTracker(req, rule, context);
 * }
 */
export interface ContextRequest {
  ip?: string;
  headers?: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string };
  user?: Record<string, unknown>;
}

/**
 * What the guard sets headers on: an HTTP response (Express or Fastify), when the context has one.
 *
 * @example
 * const { res } = requestResponseOf(context);
 * res?.setHeader?.('Retry-After', '5');
 */
export interface ContextResponse {
  setHeader?(name: string, value: string): void;
  header?(name: string, value: string): void;
}

/**
 * The request (and response, when there is one) a handler's context carries: what
 * `RateLimitGuard.getRequestResponse` returns.
 *
 * @example
 * protected override getRequestResponse(context: ExecutionContext): ContextRequestResponse {
 *   const { request, reply } = context.getArgByIndex(2);
 *   return { req: request, res: reply };
 * }
 */
export interface ContextRequestResponse {
  req: ContextRequest;
  res?: ContextResponse;
}

/**
 * Whether `type` is a context type the library handles besides HTTP.
 *
 * @example
 * const type = context.getType();
 * if (type !== 'http' && isHandlerContextType(type)) { ... }
 */
export function isHandlerContextType(type: string): type is HandlerContextType {
  return type === 'graphql' || type === 'ws' || type === 'rpc';
}

/** The parts of a socket.io `Socket` (or a `ws` WebSocket) the library reads. */
interface SocketLike {
  /** socket.io: the HTTP request of the handshake (where an engine middleware such as passport puts `user`). */
  request?: ContextRequest;
  handshake?: { address?: string; headers?: ContextRequest['headers']; auth?: Record<string, unknown> };
  /** socket.io: the place for an application's per-socket data, e.g. `client.data.user` set at connection. */
  data?: { user?: Record<string, unknown> } | null;
  conn?: { remoteAddress?: string };
  /** `ws`: the TCP socket. */
  _socket?: { remoteAddress?: string };
}

/** The parts of an RPC context the library reads (TcpContext: the socket and the packet's metadata). */
interface RpcContextLike {
  getSocketRef?(): { netSocket?: { remoteAddress?: string } } | undefined;
  getMetadata?(): Record<string, string> | undefined;
}

/**
 * The request and response of a handler's context:
 * - `http`: the request and the response;
 * - `graphql`: the HTTP request behind the operation (`req` of the GraphQL context, the default of
 *   `@nestjs/apollo`), its response (`res`, else Express's `req.res`);
 * - `ws`: a view of the socket: the handshake's address and headers, the user of `client.data.user`
 *   or of the handshake request (`client.request.user`, set by an engine middleware); no response;
 * - `rpc`: a view of the message: the peer's address (TCP), the payload's `user` as the sender
 *   wrote it (trusted: services behind a trusted transport; override `getTracker` otherwise); no response.
 *
 * @example
 * const { req, res } = requestResponseOf(context);
 */
export function requestResponseOf(context: ExecutionContext): ContextRequestResponse {
  switch (context.getType<HandlerContextType | 'http'>()) {
    case 'http': {
      const http = context.switchToHttp();
      return { req: http.getRequest<ContextRequest>(), res: http.getResponse<ContextResponse>() };
    }
    case 'graphql': {
      const graphqlContext = graphqlContextOf(context);
      const req = (graphqlContext?.req ?? graphqlContext?.request ?? {}) as ContextRequest & { res?: ContextResponse };
      return { req, res: (graphqlContext?.res as ContextResponse | undefined) ?? req.res };
    }
    case 'ws':
      return { req: socketRequestOf(context.switchToWs().getClient<SocketLike>()) };
    case 'rpc': {
      const rpc = context.switchToRpc();
      const data = rpc.getData<{ user?: unknown } | null | undefined>();
      const user = typeof data === 'object' && data !== null && typeof data.user === 'object' && data.user !== null ? (data.user as Record<string, unknown>) : undefined;
      return { req: { ip: rpc.getContext<RpcContextLike | undefined>()?.getSocketRef?.()?.netSocket?.remoteAddress, user } };
    }
    default:
      return { req: {} };
  }
}

/**
 * The GraphQL context of a resolver call (its third argument, as `GqlExecutionContext` reads it):
 * `{ req }` by default, or what the application's `context` option returns.
 *
 * @example
 * const req = graphqlContextOf(context)?.req;
 */
export function graphqlContextOf(context: ExecutionContext): Record<string, unknown> | undefined {
  const value: unknown = context.getArgByIndex(2);
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

/**
 * The HTTP request of a socket's handshake (socket.io's `client.request`), if any: a
 * WebSocket's tenant is read from it as from any HTTP request.
 */
export function handshakeRequestOf(client: unknown): unknown {
  return (client as SocketLike | null | undefined)?.request;
}

/** The `auth` object a socket.io client sent with its handshake (`io(url, { auth })`), if any. */
export function handshakeAuthOf(client: unknown): Record<string, unknown> | undefined {
  const auth = (client as SocketLike | null | undefined)?.handshake?.auth;
  return typeof auth === 'object' && auth !== null ? auth : undefined;
}

/** The packet metadata of an RPC message (`TcpContext.getMetadata()`, `RedisContext.getMetadata()`), if the transport has any. */
export function rpcMetadataOf(context: ExecutionContext): Record<string, string> | undefined {
  const rpcContext = context.switchToRpc().getContext<RpcContextLike | undefined>();
  return typeof rpcContext?.getMetadata === 'function' ? rpcContext.getMetadata() : undefined;
}

/**
 * A socket as a request: the handshake's address and headers, and the user of `client.data.user`
 * (socket.io's place for per-socket data) or of the handshake request (`client.request.user`, set
 * by an engine middleware such as passport).
 *
 * @example
 * socketRequestOf(context.switchToWs().getClient()).headers?.['x-tenant-id'];
 */
export function socketRequestOf(socket: unknown): ContextRequest {
  const client = socket as SocketLike | null | undefined;
  const handshake = client?.handshake;
  return {
    ip: handshake?.address ?? client?.conn?.remoteAddress ?? client?._socket?.remoteAddress,
    headers: handshake?.headers ?? client?.request?.headers,
    user: client?.data?.user ?? client?.request?.user,
  };
}
