import { SetMetadata, UseInterceptors, applyDecorators } from '@nestjs/common';
import { IDEMPOTENT_METADATA } from './idempotency-http.js';
import { checkIdempotentOptions } from './idempotency-validation.js';
import { IdempotencyInterceptor } from './idempotency.interceptor.js';
import type { IdempotentOptions } from './idempotency.types.js';

/**
 * Makes an HTTP route (or every route of a controller) idempotent under the `Idempotency-Key`
 * header: the first request with a key runs, duplicates in flight wait for its response (or get
 * 409), later ones replay it byte for byte, and the key reused for another request gets 422.
 * Writes the options as metadata and applies IdempotencyInterceptor (see it for the details).
 * The options are checked here, when the class is defined.
 *
 * @throws InvalidArgumentError naming a bad option
 * @example
 * @Post(':id/runs')
 * @Idempotent({ ttlMs: 3_600_000, scope: 'tenant', concurrent: 'reject' })
 * start(@Param('id') id: string, @Body() body: StartRun) { return this.runs.start(id, body); }
 *
 * @example
 * @Idempotent({ required: true }) // every route of the controller; no header: 400
 * @Controller('payments')
 * class PaymentsController {}
 */
export function Idempotent(options: IdempotentOptions = {}): MethodDecorator & ClassDecorator {
  checkIdempotentOptions(options);
  return applyDecorators(SetMetadata(IDEMPOTENT_METADATA, Object.freeze({ ...options })), UseInterceptors(IdempotencyInterceptor));
}
