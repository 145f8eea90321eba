import { BadRequestException } from '@nestjs/common';
import { CoordinationError } from '../errors/coordination.error.js';
import { problemOf } from './problem-details.js';

/**
 * A CoordinationError met before a handler runs (a missing or malformed tenant), as Nest's own
 * BadRequestException, so that an app's `@Catch(BadRequestException)` filter still sees it: its
 * body (`getResponse()`) is the problem details of `error`, which Nest renders without any
 * filter; CoordinationExceptionFilter, when registered, answers it like `error` itself
 * (`application/problem+json`). `headers` is empty, like a CoordinationHttpException's of a 400.
 *
 * @example
 * throw new CoordinationBadRequestException(new TenantRequiredError('CrewsController.run', 'send the x-tenant-id header'));
 *
 * @example
 * @Catch(BadRequestException) // sees tenant 400s too
 * class BadRequestLogger implements ExceptionFilter { ... }
 */
export class CoordinationBadRequestException extends BadRequestException {
  readonly headers: Readonly<Record<string, string>> = Object.freeze({});

  constructor(readonly error: CoordinationError) {
    super(problemOf(error, 400), { cause: error });
  }
}

/**
 * The HTTP form of an input error met before a handler runs (a missing or malformed tenant):
 * a 400 (CoordinationBadRequestException, a BadRequestException) carrying the stable code in a
 * problem details body, whether or not the app registered CoordinationExceptionFilter. Anything
 * that is not a CoordinationError is returned unchanged.
 *
 * @example
 * return next(asBadRequest(error));
 */
export function asBadRequest(error: unknown): unknown {
  return error instanceof CoordinationError ? new CoordinationBadRequestException(error) : error;
}
