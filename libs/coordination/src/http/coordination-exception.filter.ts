import { Catch, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { CoordinationGraphQLException, contextErrorBodyOf } from '../contexts/context-errors.js';
import { CoordinationError } from '../errors/coordination.error.js';
import { CoordinationBadRequestException } from './as-bad-request.js';
import { CoordinationHttpException } from './coordination-http.exception.js';
import { HTTP_STATUS_BY_CODE } from './http-status.js';
import { PROBLEM_JSON, problemOf } from './problem-details.js';

export { HTTP_STATUS_BY_CODE } from './http-status.js';

/** What CoordinationExceptionFilter catches. */
type CoordinationFilterInput = CoordinationError | CoordinationHttpException | CoordinationBadRequestException;

interface HttpResponseLike {
  status(code: number): HttpResponseLike;
  setHeader(name: string, value: string): void;
  send(body: string): void;
}

/**
 * Maps `CoordinationError`s to HTTP responses with an RFC 9457 `application/problem+json`
 * body carrying the stable error code: lock timeouts become 409, rate limits 429,
 * invalid input 400, an unreachable Redis 503, a missing or unknown session 401. The HTTP
 * exceptions the library throws before a handler runs, so that apps without this filter get the
 * right status (CoordinationHttpException: SessionGuard and others; CoordinationBadRequestException,
 * a BadRequestException: a missing or malformed tenant), are answered like the error they carry,
 * with the headers they carry (SessionGuard's `WWW-Authenticate` challenge, which only the guard
 * can choose: a session error thrown by a handler gets none). Register it globally or per
 * controller. On a GraphQL resolver it answers with the GraphQL error (CoordinationGraphQLException:
 * `extensions.code`); in other contexts it rethrows the error.
 *
 * @example
 * app.useGlobalFilters(new CoordinationExceptionFilter());
 * // or: @UseFilters(CoordinationExceptionFilter) on a controller
 */
@Catch(CoordinationError, CoordinationHttpException, CoordinationBadRequestException)
export class CoordinationExceptionFilter implements ExceptionFilter<CoordinationFilterInput> {
  catch(exception: CoordinationFilterInput, host: ArgumentsHost): void {
    const error = exception instanceof CoordinationError ? exception : exception.error;
    // A GraphQL resolver's client gets the GraphQL error with `extensions.code` (as from TenantInterceptor).
    if (host.getType<string>() === 'graphql') throw new CoordinationGraphQLException(contextErrorBodyOf(error), error);
    if (host.getType() !== 'http') throw error;
    const response = host.switchToHttp().getResponse<HttpResponseLike>();
    const status = this.statusOf(error);
    const headers = exception instanceof CoordinationError ? {} : exception.headers;
    for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
    response.setHeader('Content-Type', PROBLEM_JSON);
    response.status(status).send(JSON.stringify(this.problemOf(error, status)));
  }

  /** Override to change the status of a code. */
  protected statusOf(error: CoordinationError): number {
    return HTTP_STATUS_BY_CODE[error.code] ?? HttpStatus.INTERNAL_SERVER_ERROR;
  }

  /** Override to shape the problem body. */
  protected problemOf(error: CoordinationError, status: number): Record<string, unknown> {
    return problemOf(error, status);
  }
}
