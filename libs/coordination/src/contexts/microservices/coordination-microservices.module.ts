import { Global, Module } from '@nestjs/common';
import { RPC_EXCEPTION_FACTORY, type ContextExceptionFactory } from '../context-errors.js';
import { CoordinationRpcException } from './coordination-rpc.exception.js';

const RPC_EXCEPTIONS: ContextExceptionFactory = { create: (body, error) => new CoordinationRpcException(body, error) };

/**
 * Lets `@RateLimit`, `@WithLock` and tenancy answer microservice clients with an `RpcException`
 * (CoordinationRpcException): import it once, beside CoordinationModule, in an application with
 * `@MessagePattern` handlers (`@nestjs/microservices`). Global. Without it, the boot fails when
 * such a handler has `@RateLimit` or `@WithLock`, or `tenancy.required` is on.
 *
 * @example
 * import { CoordinationMicroservicesModule } from '@nest-coordination/core/microservices';
 *
 * @Module({ imports: [CoordinationModule.forRoot({ connection: { url } }), CoordinationMicroservicesModule], controllers: [OrdersController] })
 * export class AppModule {}
 */
@Global()
@Module({
  providers: [{ provide: RPC_EXCEPTION_FACTORY, useValue: RPC_EXCEPTIONS }],
  exports: [RPC_EXCEPTION_FACTORY],
})
export class CoordinationMicroservicesModule {}
