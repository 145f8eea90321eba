import { HttpException, HttpStatus } from '@nestjs/common';
import { CoordinationError } from '../errors/coordination.error.js';
import { HTTP_STATUS_BY_CODE, httpHeadersOf } from './http-status.js';
import { problemDetails } from './problem-details.js';

/**
 * A CoordinationError met outside a handler (middleware, interceptor, guard), as an HTTP
 * exception Nest renders without any filter: its status is the error's (HTTP_STATUS_BY_CODE),
 * its body the problem details of `error`, `headers` what the response must also carry (the
 * `WWW-Authenticate` challenge of a 401; whoever throws it sets them, Nest's own handler does
 * not). CoordinationExceptionFilter, when registered, answers it like `error` itself
 * (`application/problem+json`).
 *
 * @example
 * throw new CoordinationHttpException(new SessionRequiredError('MeController.me needs a session'));
 */
export class CoordinationHttpException extends HttpException {
  readonly headers: Readonly<Record<string, string>>;

  constructor(readonly error: CoordinationError, status: number = HTTP_STATUS_BY_CODE[error.code] ?? HttpStatus.INTERNAL_SERVER_ERROR) {
    super(problemDetails({ code: error.code, status, title: error.name, detail: error.message, extensions: error.details }), status, { cause: error });
    this.headers = httpHeadersOf(error.code, status);
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
