import type { IdempotentOptions } from './idempotency.types.js';

/** STUB (lead): replaced by the service helper. */
export function Idempotent(_options: IdempotentOptions = {}): MethodDecorator & ClassDecorator {
  return () => undefined;
}
