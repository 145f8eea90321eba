import { HttpStatus } from '@nestjs/common';
import { CoordinationError } from '../errors/coordination.error.js';
import { CoordinationHttpException } from './coordination-http.exception.js';

/**
 * A CoordinationError met before a handler runs, as a 400 Nest renders without any filter.
 *
 * @example
 * throw new CoordinationBadRequestException(new TenantRequiredError('CrewsController.run', 'send the x-tenant-id header'));
 */
export class CoordinationBadRequestException extends CoordinationHttpException {
  constructor(error: CoordinationError) {
    super(error, HttpStatus.BAD_REQUEST);
  }
}

/**
 * The HTTP form of an input error met before a handler runs (a missing or malformed tenant):
 * a 400 carrying the stable code in a problem details body, whether or not the app registered
 * CoordinationExceptionFilter. Anything that is not a CoordinationError is returned unchanged.
 *
 * @example
 * return next(asBadRequest(error));
 */
export function asBadRequest(error: unknown): unknown {
  return error instanceof CoordinationError ? new CoordinationBadRequestException(error) : error;
}
