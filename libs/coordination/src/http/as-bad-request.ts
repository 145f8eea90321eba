import { BadRequestException, HttpStatus } from '@nestjs/common';
import { CoordinationError } from '../errors/coordination.error.js';
import { problemDetails } from './problem-details.js';

/**
 * A CoordinationError met before a handler runs, as a 400 Nest renders without any filter: its
 * body is the problem details of `error`. CoordinationExceptionFilter, when registered, answers
 * it like `error` itself (`application/problem+json`).
 */
export class CoordinationBadRequestException extends BadRequestException {
  constructor(readonly error: CoordinationError) {
    super(
      problemDetails({ code: error.code, status: HttpStatus.BAD_REQUEST, title: error.name, detail: error.message, extensions: error.details }),
      { cause: error },
    );
  }
}

/**
 * The HTTP form of an input error met before a handler runs (a missing or malformed tenant):
 * a 400 carrying the stable code in a problem details body, whether or not the app registered
 * CoordinationExceptionFilter. Anything that is not a CoordinationError is returned unchanged.
 */
export function asBadRequest(error: unknown): unknown {
  return error instanceof CoordinationError ? new CoordinationBadRequestException(error) : error;
}
