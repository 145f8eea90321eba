import { BadRequestException } from '@nestjs/common';
import { CoordinationError } from '../errors/coordination.error.js';

/**
 * The HTTP form of an input error met before a handler runs (a missing or malformed tenant):
 * a 400 carrying the stable code, whether or not the app registered CoordinationExceptionFilter.
 * Anything that is not a CoordinationError is returned unchanged.
 */
export function asBadRequest(error: unknown): unknown {
  return error instanceof CoordinationError ? new BadRequestException({ code: error.code, message: error.message }) : error;
}
