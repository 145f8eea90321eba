// `@nest-coordination/core/websockets`: what lets RateLimitGuard, TenantInterceptor and
// `@WithLock` answer WebSocket clients with a `WsException`. A separate entry point, so that
// @nestjs/websockets (an optional peer dependency) is loaded only by applications that import it.
export { CoordinationWebSocketsModule } from './coordination-websockets.module.js';
export { CoordinationWsException } from './coordination-ws.exception.js';
export type { ContextErrorBody } from '../context-errors.js';
