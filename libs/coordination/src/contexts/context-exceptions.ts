import { Inject, Injectable, Logger, Optional, type ExecutionContext } from '@nestjs/common';
import { CoordinationError } from '../errors/coordination.error.js';
import {
  CoordinationGraphQLException, RPC_EXCEPTION_FACTORY, WS_EXCEPTION_FACTORY, contextErrorBodyOf, type ContextErrorBody, type ContextExceptionFactory,
} from './context-errors.js';

/** The module that provides each factory, for messages. */
const PROVIDERS = {
  ws: "CoordinationWebSocketsModule from '@nest-coordination/core/websockets'",
  rpc: "CoordinationMicroservicesModule from '@nest-coordination/core/microservices'",
} as const;

/**
 * Turns the library's refusals into the exception each context's clients understand: a GraphQL
 * error with `extensions.code` (CoordinationGraphQLException), a `WsException` or an
 * `RpcException` with the body `{ status: 'error', code, message, ... }`. The WebSocket and
 * microservice exceptions come from factories their subpath modules provide, so that an
 * application without those packages never loads them. Used by RateLimitGuard and
 * TenantInterceptor; exported for guards of an application's own.
 *
 * @example
 * @Injectable()
 * class QuotaGuard implements CanActivate {
 *   constructor(private readonly exceptions: ContextExceptions) {}
 *   async canActivate(context: ExecutionContext) {
 *     if (await overQuota(context)) throw this.exceptions.of(context, { code: ErrorCode.RateLimited, message: 'Over quota', retryAfterMs: 60_000 });
 *     return true;
 *   }
 * }
 */
@Injectable()
export class ContextExceptions {
  private readonly logger = new Logger('Coordination');
  private readonly warned = new Set<string>();

  constructor(
    @Optional() @Inject(WS_EXCEPTION_FACTORY) private readonly ws?: ContextExceptionFactory,
    @Optional() @Inject(RPC_EXCEPTION_FACTORY) private readonly rpc?: ContextExceptionFactory,
  ) {}

  /** Whether refusals on handlers of `type` can be answered with that context's exception. */
  supports(type: string): boolean {
    return type === 'graphql' || (type === 'ws' && this.ws !== undefined) || (type === 'rpc' && this.rpc !== undefined);
  }

  /**
   * The exception of `context`'s type for a refusal (`error`, the library's error it stands for,
   * becomes its `cause`). HTTP has its own (the guards' problem details): for an `http` context,
   * and for a WebSocket or microservice context whose module is missing (which fails the boot
   * when a handler needs it, see ContextsExplorer), it is `error` itself, else an Error with the message.
   */
  of(context: ExecutionContext, body: ContextErrorBody, error?: CoordinationError): Error {
    const type = context.getType<string>();
    if (type === 'graphql') return new CoordinationGraphQLException(body, error);
    const factory = type === 'ws' ? this.ws : type === 'rpc' ? this.rpc : undefined;
    if (factory !== undefined) return factory.create(body, error);
    if (type === 'ws' || type === 'rpc') this.warnMissing(type);
    return error ?? new Error(body.message);
  }

  /**
   * `error` as `context`'s exception when it is a CoordinationError (a `@WithLock` timeout, a
   * rate limit a handler enforced itself); anything else unchanged, for the context's own
   * exception handling.
   *
   * @example
   * return next.handle().pipe(catchError((error) => throwError(() => exceptions.map(context, error))));
   */
  map(context: ExecutionContext, error: unknown): unknown {
    return error instanceof CoordinationError ? this.of(context, contextErrorBodyOf(error), error) : error;
  }

  private warnMissing(type: 'ws' | 'rpc'): void {
    if (this.warned.has(type)) return;
    this.warned.add(type);
    this.logger.warn(`A ${type === 'ws' ? 'WebSocket' : 'microservice'} handler was refused with the library's error itself, which its client sees as "Internal server error": import ${PROVIDERS[type]}`);
  }
}

/** The module providing the exception factory of `type`, for messages. */
export function exceptionModuleOf(type: 'ws' | 'rpc'): string {
  return PROVIDERS[type];
}
