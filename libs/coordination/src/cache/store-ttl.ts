import { InvalidArgumentError } from '../errors/coordination.error.js';

/**
 * The lifetime a cache store writes for `ttlMs`: whole milliseconds, rounded up (Redis `PX`
 * takes an integer; a fractional lifetime never ends early), after checking it is a finite
 * number > 0. Both stores call it, so they refuse the same input with the same error before
 * anything is written (Redis would otherwise answer a bare "invalid expire time").
 *
 * @example
 * storeTtlMs(1.2); // 2
 * storeTtlMs(0);   // throws InvalidArgumentError('ttlMs', ...)
 */
export function storeTtlMs(ttlMs: number): number {
  if (typeof ttlMs !== 'number' || !(ttlMs > 0) || ttlMs === Infinity) {
    throw new InvalidArgumentError('ttlMs', `must be a finite number > 0, got ${String(ttlMs)}`);
  }
  return Math.ceil(ttlMs);
}
