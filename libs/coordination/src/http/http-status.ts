import { HttpStatus } from '@nestjs/common';
import { ErrorCode } from '../errors/coordination.error.js';

/**
 * HTTP status per error code; codes not listed map to 500.
 *
 * @example
 * HTTP_STATUS_BY_CODE[ErrorCode.LockTimeout]; // 409
 */
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

/** RFC 6750 challenges: none for a request without credentials, `invalid_token` for one that did not work. */
const CHALLENGE_BY_CODE: Readonly<Partial<Record<ErrorCode, string>>> = {
  [ErrorCode.SessionRequired]: 'Bearer',
  [ErrorCode.SessionNotFound]: 'Bearer error="invalid_token"',
};

/**
 * The headers an HTTP answer of `status` to an error of `code` carries besides its body: a 401
 * of the sessions capability has the `WWW-Authenticate` challenge a 401 must carry (RFC 9110
 * §15.5.2), in RFC 6750's Bearer form. Empty for anything else.
 *
 * @example
 * httpHeadersOf(ErrorCode.SessionNotFound, 401); // { 'WWW-Authenticate': 'Bearer error="invalid_token"' }
 */
export function httpHeadersOf(code: ErrorCode, status: number): Readonly<Record<string, string>> {
  const challenge = status === HttpStatus.UNAUTHORIZED ? CHALLENGE_BY_CODE[code] : undefined;
  return challenge === undefined ? {} : { 'WWW-Authenticate': challenge };
}
