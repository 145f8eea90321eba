import { InvalidArgumentError } from '../errors/coordination.error.js';
import { kindOf } from '../keys/key-builder.js';
import { LEADER_LIMITS } from './leader.options.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Throws InvalidArgumentError unless `name` is a role (or job) name: a string of 1..100
 * characters without control characters. Any other character is safe: the key builder encodes it.
 *
 * @example
 * assertRoleName('billing-sweeper', 'role'); // passes
 * assertRoleName('', 'role');                // InvalidArgumentError: Invalid argument "role": must not be empty
 */
export function assertRoleName(name: unknown, argument: string): asserts name is string {
  if (typeof name !== 'string') throw new InvalidArgumentError(argument, `must be a string, got ${kindOf(name)}`);
  if (name.length === 0) throw new InvalidArgumentError(argument, 'must not be empty');
  if (name.length > LEADER_LIMITS.nameLength) {
    throw new InvalidArgumentError(argument, `must be at most ${LEADER_LIMITS.nameLength} characters, got ${name.length}`);
  }
  if (CONTROL.test(name)) throw new InvalidArgumentError(argument, `${JSON.stringify(name)} contains a control character`);
}

/**
 * Throws InvalidArgumentError unless `options` is undefined or a plain object whose keys are all
 * in `known` (a misspelt option is refused by name instead of silently ignored).
 *
 * @example
 * assertOptionKeys({ leaseMs: 5_000 }, ['leaseMs', 'tenant'], 'options'); // passes
 */
export function assertOptionKeys(options: unknown, known: readonly string[], argument: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(argument, `must be an object, got ${kindOf(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new InvalidArgumentError(`${argument}.${key}`, `is not an option (known: ${known.join(', ')})`);
  }
}

/**
 * Throws InvalidArgumentError unless `value` is an integer number of milliseconds within `bounds`.
 *
 * @example
 * assertLeaseMs(5_000, LEADER_LIMITS.leaseMs, 'options.leaseMs'); // passes
 */
export function assertLeaseMs(value: unknown, bounds: { min: number; max: number }, argument: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < bounds.min || value > bounds.max) {
    throw new InvalidArgumentError(argument, `must be an integer from ${bounds.min} to ${bounds.max} ms, got ${typeof value === 'number' ? value : kindOf(value)}`);
  }
}
