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
  [ErrorCode.DeadLetterNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.StreamShutdown]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.TaskNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.TaskState]: HttpStatus.CONFLICT,
  [ErrorCode.TaskTimeout]: HttpStatus.GATEWAY_TIMEOUT,
  [ErrorCode.TaskShutdown]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.IdempotencyKeyInvalid]: HttpStatus.BAD_REQUEST,
  [ErrorCode.IdempotencyKeyRequired]: HttpStatus.BAD_REQUEST,
  [ErrorCode.IdempotencyMismatch]: HttpStatus.UNPROCESSABLE_ENTITY,
  [ErrorCode.IdempotencyInFlight]: HttpStatus.CONFLICT,
  [ErrorCode.LeaderShutdown]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.LeaderLost]: HttpStatus.CONFLICT,
};

/**
 * The `WWW-Authenticate` challenge of SessionGuard's 401s (RFC 9110 §15.5.2, in RFC 6750's Bearer
 * form), as the headers to send: `Bearer` only when bearer tokens are accepted (`sessions.bearer`),
 * with `error="invalid_token"` only when the request sent a bearer token that was refused. With
 * cookies only, no header: no standard scheme describes a cookie session, and advertising one the
 * server does not accept would mislead clients.
 *
 * @example
 * sessionChallengeOf({ bearer: true, refusedBearer: true });  // { 'WWW-Authenticate': 'Bearer error="invalid_token"' }
 * sessionChallengeOf({ bearer: false, refusedBearer: false }); // {}
 */
export function sessionChallengeOf(input: { bearer: boolean; refusedBearer: boolean }): Readonly<Record<string, string>> {
  if (!input.bearer) return {};
  return { 'WWW-Authenticate': input.refusedBearer ? 'Bearer error="invalid_token"' : 'Bearer' };
}
