import { Catch, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { CoordinationError } from '../errors/coordination.error.js';
import { CoordinationHttpException } from './coordination-http.exception.js';
import { HTTP_STATUS_BY_CODE, httpHeadersOf } from './http-status.js';
import { PROBLEM_JSON, problemDetails } from './problem-details.js';

export { HTTP_STATUS_BY_CODE } from './http-status.js';

interface HttpResponseLike {
  status(code: number): HttpResponseLike;
  setHeader(name: string, value: string): void;
  send(body: string): void;
}

/**
 * Maps `CoordinationError`s to HTTP responses with an RFC 9457 `application/problem+json`
 * body carrying the stable error code: lock timeouts become 409, rate limits 429,
 * invalid input 400, an unreachable Redis 503, a missing or unknown session 401 (with its
 * `WWW-Authenticate: Bearer` challenge). The HTTP exceptions the library throws before a handler
 * runs (CoordinationHttpException: tenant middleware and interceptor, SessionGuard), so that apps
 * without this filter get the right status, are answered like the error they carry. Register it
 * globally or per controller.
 *
 * @example
 * app.useGlobalFilters(new CoordinationExceptionFilter());
 * // or: @UseFilters(CoordinationExceptionFilter) on a controller
 */
@Catch(CoordinationError, CoordinationHttpException)
export class CoordinationExceptionFilter implements ExceptionFilter<CoordinationError | CoordinationHttpException> {
  catch(exception: CoordinationError | CoordinationHttpException, host: ArgumentsHost): void {
    const error = exception instanceof CoordinationHttpException ? exception.error : exception;
    if (host.getType() !== 'http') throw error;
    const response = host.switchToHttp().getResponse<HttpResponseLike>();
    const status = this.statusOf(error);
    for (const [name, value] of Object.entries(httpHeadersOf(error.code, status))) response.setHeader(name, value);
    response.setHeader('Content-Type', PROBLEM_JSON);
    response.status(status).send(JSON.stringify(this.problemOf(error, status)));
  }

  /** Override to change the status of a code. */
  protected statusOf(error: CoordinationError): number {
    return HTTP_STATUS_BY_CODE[error.code] ?? HttpStatus.INTERNAL_SERVER_ERROR;
  }

  /** Override to shape the problem body. */
  protected problemOf(error: CoordinationError, status: number): Record<string, unknown> {
    return problemDetails({ code: error.code, status, title: error.name, detail: error.message, extensions: error.details });
  }
}
