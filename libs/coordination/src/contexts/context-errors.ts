import { IntrinsicException } from '@nestjs/common';
import type { CoordinationError, ErrorCode } from '../errors/coordination.error.js';
import { retryAfterSeconds } from '../rate-limit/rate-limit-headers.js';

/**
 * What a GraphQL, WebSocket or microservice client is told when the library refuses a call: the
 * stable `code`, a `message`, and the error's domain fields (`policy`, `limit`, `retryAfterMs`,
 * `retryAfterSeconds`, `source` for a rate limit; `key`, `waitedMs`, `tenant` for a lock
 * timeout), the members an HTTP client gets in its problem details body.
 *
 * @example
 * // a socket.io client's `exception` event, a microservice client's error (with `status: 'error'`),
 * // a GraphQL error's `extensions` (without `message`)
 * { code: 'E_RATE_LIMITED', message: 'Rate limit policy "user" exceeded (5 per window)', policy: 'user', limit: 5, retryAfterMs: 8120, retryAfterSeconds: 9, source: 'redis' }
 */
export interface ContextErrorBody {
  /** The library's stable ErrorCode for its own refusals; an application's guard may use codes of its own. */
  code: ErrorCode | (string & {});
  message: string;
  /** Rate limits: ms until a call of the same cost could pass. */
  retryAfterMs?: number;
  /** `retryAfterMs` in whole seconds, at least 1, as `Retry-After` says it over HTTP. */
  retryAfterSeconds?: number;
  [field: string]: unknown;
}

/**
 * The body of `error`: its code and message, then its details, and `retryAfterSeconds` beside a
 * `retryAfterMs`.
 *
 * @example
 * contextErrorBodyOf(new LockTimeoutError('crew:c1', 0, 'acme'));
 * // { code: 'E_LOCK_TIMEOUT', message: 'Lock "crew:c1" was not acquired within 0 ms (option waitMs)', key: 'crew:c1', waitedMs: 0, tenant: 'acme' }
 */
export function contextErrorBodyOf(error: CoordinationError): ContextErrorBody {
  return withRetrySeconds({ code: error.code, message: error.message, ...error.details });
}

/** `body` with `retryAfterSeconds` beside its `retryAfterMs`, when it has one. */
export function withRetrySeconds(body: ContextErrorBody): ContextErrorBody {
  return typeof body.retryAfterMs === 'number' ? { ...body, retryAfterSeconds: retryAfterSeconds(body.retryAfterMs) } : body;
}

/**
 * Builds the exception of one context type from a refusal: registered for WebSocket gateways by
 * `CoordinationWebSocketsModule` (a `WsException`) and for microservices by
 * `CoordinationMicroservicesModule` (an `RpcException`), so that the library's core never loads
 * `@nestjs/websockets` or `@nestjs/microservices`.
 *
 * @example
 * { provide: WS_EXCEPTION_FACTORY, useValue: { create: (body, error) => new CoordinationWsException(body, error) } }
 */
export interface ContextExceptionFactory {
  /** The exception to throw; `cause` is the library's error it stands for, when there is one. */
  create(body: ContextErrorBody, cause: CoordinationError | undefined): Error;
}

/** Injection token of the WebSocket ContextExceptionFactory (provided by `CoordinationWebSocketsModule`). */
export const WS_EXCEPTION_FACTORY = Symbol('coordination:ws-exception-factory');
/** Injection token of the microservice ContextExceptionFactory (provided by `CoordinationMicroservicesModule`). */
export const RPC_EXCEPTION_FACTORY = Symbol('coordination:rpc-exception-factory');

/**
 * A refusal of the library in a GraphQL resolver (rate limited, lock timeout, missing tenant),
 * as the GraphQL error its client gets: graphql-js wraps what a resolver throws in a
 * `GraphQLError` and takes its `extensions` over, so the response's error carries
 * `extensions.code` (`E_RATE_LIMITED`, ...) and the body's fields (`retryAfterMs`,
 * `retryAfterSeconds`, `policy`, ...). An IntrinsicException, which Nest does not log: a
 * denial is an answer, not a server error (a `GraphQLError` thrown from a guard would be logged
 * at error level on every one). Needs no GraphQL package.
 *
 * @example
 * // in formatError, or a test
 * if (error.extensions?.code === 'E_RATE_LIMITED') retryIn(error.extensions.retryAfterMs);
 *
 * @example
 * @Catch(CoordinationGraphQLException)
 * class RefusalLogger implements GqlExceptionFilter {
 *   catch(exception: CoordinationGraphQLException) { logger.warn(exception.extensions.code); return exception; }
 * }
 */
export class CoordinationGraphQLException extends IntrinsicException {
  /** What the GraphQL error's `extensions` carry: `code` and the body's fields. */
  readonly extensions: Readonly<Omit<ContextErrorBody, 'message'>>;

  /** The library's error this refusal stands for, when there is one (a rate-limit denial of the guard has none). */
  declare readonly cause?: CoordinationError;

  constructor(readonly body: ContextErrorBody, cause?: CoordinationError) {
    super(body.message, cause === undefined ? undefined : { cause });
    this.name = 'CoordinationGraphQLException';
    const { message: _message, ...extensions } = body;
    this.extensions = extensions;
  }
}
