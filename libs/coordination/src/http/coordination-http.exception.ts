import { HttpException, HttpStatus } from '@nestjs/common';
import { CoordinationError } from '../errors/coordination.error.js';
import { HTTP_STATUS_BY_CODE } from './http-status.js';
import { problemOf } from './problem-details.js';

/**
 * A CoordinationError met outside a handler (guard, interceptor), as an HTTP exception Nest
 * renders without any filter: its status is the error's (HTTP_STATUS_BY_CODE) unless given, its
 * body (`getResponse()`) the problem details of `error`, `headers` what the response must also
 * carry (SessionGuard's `WWW-Authenticate` challenge; whoever throws it sets them, Nest's own
 * handler does not). CoordinationExceptionFilter, when registered, answers it like `error` itself
 * (`application/problem+json`) with these headers. Catch it in an app's own filter to see every
 * such refusal of the library (the 400s of a missing or malformed tenant are
 * CoordinationBadRequestException, a BadRequestException, instead).
 *
 * @example
 * throw new CoordinationHttpException(new SessionRequiredError('MeController.me needs a session'));
 *
 * @example
 * @Catch(CoordinationHttpException)
 * class RefusalLogger implements ExceptionFilter<CoordinationHttpException> {
 *   catch(exception: CoordinationHttpException, host: ArgumentsHost) {
 *     logger.warn(exception.error.code);
 *     host.switchToHttp().getResponse().status(exception.getStatus()).json(exception.getResponse());
 *   }
 * }
 */
export class CoordinationHttpException extends HttpException {
  constructor(
    readonly error: CoordinationError,
    status: number = HTTP_STATUS_BY_CODE[error.code] ?? HttpStatus.INTERNAL_SERVER_ERROR,
    readonly headers: Readonly<Record<string, string>> = Object.freeze({}),
  ) {
    super(problemOf(error, status), status, { cause: error });
  }
}

/**
 * The HTTP form of a CoordinationError met before a handler runs, at the error's own status
 * (401 for a missing session, 503 for an unreachable Redis, ...): see CoordinationHttpException.
 * Anything else (an HttpException already, a TypeError) is returned unchanged.
 *
 * @example
 * try { return await this.sessions.get(id); } catch (error) { throw asHttpException(error); }
 */
export function asHttpException(error: unknown): unknown {
  return error instanceof CoordinationError ? new CoordinationHttpException(error) : error;
}
