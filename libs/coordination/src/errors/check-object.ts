import { InvalidArgumentError } from './coordination.error.js';

/**
 * Throws InvalidArgumentError naming `argument` unless `value` is an object: an options argument
 * that is null or a primitive is an input error, not a TypeError further down or a string
 * silently ignored. Every capability checks its options arguments with it.
 *
 * @example
 * checkObject(options, 'options');            // before reading options.ttlMs
 * checkObject(entries[3], 'entries[3]');
 */
export function checkObject(value: unknown, argument: string): void {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(argument, 'must be an object', value);
}
