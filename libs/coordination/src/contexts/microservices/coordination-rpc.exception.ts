import { RpcException } from '@nestjs/microservices';
import type { CoordinationError } from '../../errors/coordination.error.js';
import type { ContextErrorBody } from '../context-errors.js';

/**
 * A refusal of the library in a microservice message handler (rate limited, lock timeout,
 * missing tenant), as the `RpcException` Nest's RPC exception filter answers: the caller's
 * `client.send()` fails with `{ status: 'error', code, message, ...fields }` (`retryAfterMs` and
 * `retryAfterSeconds` for a rate limit), and an application's `@Catch(RpcException)` filter sees
 * it; `cause` is the library's error it stands for, when there is one.
 *
 * @example
 * await firstValueFrom(client.send('crew.run', { tenantId: 'acme', crewId })).catch((e) => {
 *   if (e.code === 'E_RATE_LIMITED') return retryLater(e.retryAfterMs);
 *   throw e;
 * });
 */
export class CoordinationRpcException extends RpcException {
  /** The library's error this refusal stands for, when there is one (a rate-limit denial of the guard has none). */
  declare readonly cause?: CoordinationError;

  constructor(readonly body: ContextErrorBody, cause?: CoordinationError) {
    super({ status: 'error', ...body });
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, writable: true, configurable: true });
    this.name = 'CoordinationRpcException';
  }
}
