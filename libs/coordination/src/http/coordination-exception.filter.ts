import { Catch, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { CoordinationError, ErrorCode } from '../errors/coordination.error.js';
import { CoordinationBadRequestException } from './as-bad-request.js';
import { PROBLEM_JSON, problemDetails } from './problem-details.js';

/** HTTP status per error code; codes not listed map to 500. */
export const HTTP_STATUS_BY_CODE: Readonly<Partial<Record<ErrorCode, number>>> = {
  [ErrorCode.InvalidArgument]: HttpStatus.BAD_REQUEST,
  [ErrorCode.InvalidKey]: HttpStatus.BAD_REQUEST,
  [ErrorCode.TenantInvalid]: HttpStatus.BAD_REQUEST,
  [ErrorCode.TenantRequired]: HttpStatus.BAD_REQUEST,
  [ErrorCode.Serialization]: HttpStatus.BAD_REQUEST,
  [ErrorCode.LockTimeout]: HttpStatus.CONFLICT,
  [ErrorCode.LockLost]: HttpStatus.CONFLICT,
  [ErrorCode.Deadlock]: HttpStatus.CONFLICT,
  [ErrorCode.LockShutdown]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.RateLimited]: HttpStatus.TOO_MANY_REQUESTS,
  [ErrorCode.RedisUnavailable]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.CircuitOpen]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.SessionNotFound]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.SessionRequired]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.SessionVersionConflict]: HttpStatus.CONFLICT,
  [ErrorCode.SessionLimit]: HttpStatus.CONFLICT,
};

interface HttpResponseLike {
  status(code: number): HttpResponseLike;
  setHeader(name: string, value: string): void;
  send(body: string): void;
}

/**
 * Maps `CoordinationError`s to HTTP responses with an RFC 9457 `application/problem+json`
 * body carrying the stable error code: lock timeouts become 409, rate limits 429,
 * invalid input 400, an unreachable Redis 503. Register it globally or per controller.
 *
 * @example
 * app.useGlobalFilters(new CoordinationExceptionFilter());
 * // or: @UseFilters(CoordinationExceptionFilter) on a controller
 */
@Catch(CoordinationError, CoordinationBadRequestException)
export class CoordinationExceptionFilter implements ExceptionFilter<CoordinationError | CoordinationBadRequestException> {
  catch(exception: CoordinationError | CoordinationBadRequestException, host: ArgumentsHost): void {
    // The tenant middleware and interceptor wrap their errors so that apps without this filter get a 400.
    const error = exception instanceof CoordinationBadRequestException ? exception.error : exception;
    if (host.getType() !== 'http') throw error;
    const response = host.switchToHttp().getResponse<HttpResponseLike>();
    const status = this.statusOf(error);
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
