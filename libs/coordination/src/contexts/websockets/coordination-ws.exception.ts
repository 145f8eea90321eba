import { WsException } from '@nestjs/websockets';
import type { CoordinationError } from '../../errors/coordination.error.js';
import type { ContextErrorBody } from '../context-errors.js';

/**
 * A refusal of the library in a WebSocket message handler (rate limited, lock timeout, missing
 * tenant), as the `WsException` Nest's gateway exception filter answers: the client gets the
 * `exception` event with `{ status: 'error', code, message, ...fields }` (`retryAfterMs` and
 * `retryAfterSeconds` for a rate limit), and an application's `@Catch(WsException)` filter sees
 * it; `cause` is the library's error it stands for, when there is one.
 *
 * @example
 * socket.on('exception', (e) => { if (e.code === 'E_RATE_LIMITED') setTimeout(retry, e.retryAfterMs); });
 *
 * @example
 * @Catch(CoordinationWsException)
 * class RefusalFilter extends BaseWsExceptionFilter {
 *   override catch(exception: CoordinationWsException, host: ArgumentsHost) { metrics.refused(exception.body.code); super.catch(exception, host); }
 * }
 */
export class CoordinationWsException extends WsException {
  /** The library's error this refusal stands for, when there is one (a rate-limit denial of the guard has none). */
  declare readonly cause?: CoordinationError;

  constructor(readonly body: ContextErrorBody, cause?: CoordinationError) {
    super({ status: 'error', ...body });
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, writable: true, configurable: true });
    this.name = 'CoordinationWsException';
  }
}
