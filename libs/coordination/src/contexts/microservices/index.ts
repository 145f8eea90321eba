// `@nest-coordination/core/microservices`: what lets RateLimitGuard, TenantInterceptor and
// `@WithLock` answer microservice clients with an `RpcException`. A separate entry point, so that
// @nestjs/microservices (an optional peer dependency) is loaded only by applications that import it.
export { CoordinationMicroservicesModule } from './coordination-microservices.module.js';
export { CoordinationRpcException } from './coordination-rpc.exception.js';
export type { ContextErrorBody } from '../context-errors.js';
