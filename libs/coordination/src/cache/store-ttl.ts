import { InvalidArgumentError } from '../errors/coordination.error.js';
import { kindOf } from '../keys/key-builder.js';

/**
 * The lifetime a cache store writes for `ttlMs`: whole milliseconds, rounded up (Redis `PX`
 * takes an integer; a fractional lifetime never ends early), after checking it is a number > 0
 * of at most `Number.MAX_SAFE_INTEGER` ms. Both stores call it, so they refuse the same input with
 * the same error before anything is written (Redis would otherwise answer a bare "invalid
 * expire time", or "not an integer" for a number JavaScript prints as `1e+21`, while the memory
 * store would accept it).
 *
 * @example
 * storeTtlMs(1.2);  // 2
 * storeTtlMs(0);    // throws InvalidArgumentError('ttlMs', ...)
 * storeTtlMs(1e21); // throws InvalidArgumentError('ttlMs', ...)
 */
export function storeTtlMs(ttlMs: number): number {
  // Also refuses NaN, Infinity and non-numbers: every comparison with them is false.
  if (typeof ttlMs !== 'number' || !(ttlMs > 0 && ttlMs <= Number.MAX_SAFE_INTEGER)) {
    throw new InvalidArgumentError('ttlMs', `must be a number > 0 and at most ${Number.MAX_SAFE_INTEGER} (Number.MAX_SAFE_INTEGER), got ${typeof ttlMs === 'number' ? String(ttlMs) : kindOf(ttlMs)}`);
  }
  return Math.ceil(ttlMs);
}
