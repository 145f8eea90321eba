import { InvalidArgumentError } from '../errors/coordination.error.js';
import type { SessionFields } from './session-store.interface.js';

/** The store's fields every record holds, each an integer (epoch ms, ms, or a version). */
const TIME_FIELDS = ['t', 'e', 'x', 'i', 'v'] as const;
const INTEGER = /^(0|[1-9][0-9]{0,15})$/;

/**
 * The expiries and creation time of a dumped record about to be restored, after checking that
 * each of its store fields (`t e x i v`) is a non-negative integer: a record without them could
 * not be read, slid or updated. Both session stores call it before writing anything, so they
 * refuse the same record with the same InvalidArgumentError (`fields`).
 *
 * @example
 * const { e, x, t } = restoredTimes(line.fields); // throws InvalidArgumentError('fields', ...)
 */
export function restoredTimes(fields: SessionFields): { e: number; x: number; t: number } {
  for (const name of TIME_FIELDS) {
    const value = Object.hasOwn(fields, name) ? fields[name] : undefined;
    if (typeof value !== 'string' || !INTEGER.test(value)) {
      throw new InvalidArgumentError('fields', `"${name}" must be a non-negative integer string, got ${JSON.stringify(value) ?? 'nothing'}`);
    }
  }
  return { e: Number(fields.e), x: Number(fields.x), t: Number(fields.t) };
}
