import { InvalidArgumentError } from '../errors/coordination.error.js';
import { MAX_RESTORE_AHEAD_MS } from './session-limits.js';
import type { SessionFields } from './session-store.interface.js';

/**
 * The store's fields every record holds, each a non-negative integer (epoch ms, ms, or a
 * version), and the most decimal digits each may have: the widths of the header of a record on
 * Redis (lua/include/session-record.lua; 13 digits of epoch ms last until the year 2286).
 */
const TIME_FIELDS = { t: 13, l: 13, e: 13, x: 13, i: 11, v: 10 } as const;
const INTEGER = /^(0|[1-9][0-9]*)$/;

/** The store's fields of a dumped record, as numbers. */
export interface RestoredTimes {
  readonly t: number;
  readonly l: number;
  readonly e: number;
  readonly x: number;
  readonly i: number;
  readonly v: number;
}

/**
 * The time fields of a dumped record about to be restored, after checking that each of its
 * store fields (`t l e x i v`) is a non-negative integer that fits the record's header: a
 * record without them could not be read, slid or updated. Both session stores call it before
 * writing anything, so they refuse the same record with the same InvalidArgumentError (`fields`).
 *
 * @example
 * const { e, x, t } = restoredTimes(line.fields); // throws InvalidArgumentError('fields', ...)
 */
export function restoredTimes(fields: SessionFields): RestoredTimes {
  const times: Record<string, number> = {};
  for (const [name, digits] of Object.entries(TIME_FIELDS)) {
    const value = Object.hasOwn(fields, name) ? fields[name] : undefined;
    if (typeof value !== 'string' || !INTEGER.test(value) || value.length > digits) {
      throw new InvalidArgumentError('fields', `"${name}" must be a non-negative integer string of at most ${digits} digits, got ${JSON.stringify(value) ?? 'nothing'}`);
    }
    times[name] = Number(value);
  }
  return times as unknown as RestoredTimes;
}

/**
 * What both session stores throw for a dumped record created more than MAX_RESTORE_AHEAD_MS
 * after the store's clock (no session can have been): an InvalidArgumentError naming `fields`,
 * as for malformed time fields, so an import reports it as its line's.
 *
 * @example
 * if (t > now + MAX_RESTORE_AHEAD_MS) throw futureRecord();
 */
export function futureRecord(): InvalidArgumentError {
  return new InvalidArgumentError('fields', `"t" (its creation) is more than ${MAX_RESTORE_AHEAD_MS} ms after the store's clock`);
}
