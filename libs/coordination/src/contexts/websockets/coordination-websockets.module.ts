import { Global, Module } from '@nestjs/common';
import { WS_EXCEPTION_FACTORY, type ContextExceptionFactory } from '../context-errors.js';
import { CoordinationWsException } from './coordination-ws.exception.js';

const WS_EXCEPTIONS: ContextExceptionFactory = { create: (body, error) => new CoordinationWsException(body, error) };

/**
 * Lets `@RateLimit`, `@WithLock` and tenancy answer WebSocket clients with a `WsException`
 * (CoordinationWsException): import it once, beside CoordinationModule, in an application with
 * gateways (`@nestjs/websockets`). Global. Without it, the boot fails when a gateway's handler
 * has `@RateLimit` or `@WithLock`, or `tenancy.required` is on.
 *
 * @example
 * import { CoordinationWebSocketsModule } from '@nest-coordination/core/websockets';
 *
 * @Module({ imports: [CoordinationModule.forRoot({ connection: { url } }), CoordinationWebSocketsModule], providers: [ChatGateway] })
 * export class AppModule {}
 */
@Global()
@Module({
  providers: [{ provide: WS_EXCEPTION_FACTORY, useValue: WS_EXCEPTIONS }],
  exports: [WS_EXCEPTION_FACTORY],
})
export class CoordinationWebSocketsModule {}
