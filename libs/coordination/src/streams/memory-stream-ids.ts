/**
 * Stream ids (`<ms>-<seq>`) and the id-ordered entries of a log, for MemoryStreamStore: parsing,
 * ordering, binary search, trimming in chunks as Redis does, and entries as the store returns them.
 */
import type { RawDeadLetter, RawEntry } from './stream-store.interface.js';

/** A position in a log (an id as numbers, for ordering). */
export interface Position { readonly ms: number; readonly seq: number }
/** An id with its position. */
export interface Cursor extends Position { readonly id: string }
/** An entry of a log with its fields, as XADD stored them. */
export interface Entry extends Cursor { readonly fields: Readonly<Record<string, string>> }

/**
 * The position before every entry (a group created `earliest`, a log never written).
 *
 * @example
 * const group = { last: ZERO, pel: new Map(), consumers: new Map() };
 */
export const ZERO: Cursor = { id: '0-0', ms: 0, seq: 0 };

/**
 * How many entries past `maxLen` a log keeps before it trims (then back to `maxLen`): Redis
 * trims `MAXLEN ~` by whole nodes of 100 entries (stream-node-max-entries), and trimming on every
 * append at the limit would shift the whole log each time.
 *
 * @example
 * trim(entries, 10_000); // drops the oldest ones once 10_100 are kept
 */
export const TRIM_CHUNK = 100;

/**
 * The position of an id (`<ms>-<seq>`, or `<ms>` for `<ms>-0`).
 *
 * @example
 * parseId('1700000000000-3'); // { ms: 1700000000000, seq: 3 }
 */
export function parseId(id: string): Position {
  const dash = id.indexOf('-');
  return dash < 0 ? { ms: Number(id), seq: 0 } : { ms: Number(id.slice(0, dash)), seq: Number(id.slice(dash + 1)) };
}

/**
 * Orders two positions: negative, 0 or positive, as `a` is before, at or after `b`.
 *
 * @example
 * compare(parseId('5-1'), parseId('5-2')); // < 0
 */
export function compare(a: Position, b: Position): number {
  return a.ms === b.ms ? a.seq - b.seq : a.ms - b.ms;
}

/**
 * Index of the first entry after `at` (or at it, when `inclusive`): binary search over the id order.
 *
 * @example
 * entries.slice(indexFrom(entries, parseId(after), false)); // the entries after `after`
 */
export function indexFrom(entries: readonly Entry[], at: Position, inclusive: boolean): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const order = compare(entries[mid], at);
    if (order > 0 || (inclusive && order === 0)) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * Index of the entry with this id, -1 when there is none.
 *
 * @example
 * const entry = entries[indexOfId(entries, id)]; // undefined when trimmed away
 */
export function indexOfId(entries: readonly Entry[], id: string): number {
  const position = parseId(id);
  const at = indexFrom(entries, position, true);
  return at < entries.length && compare(entries[at], position) === 0 ? at : -1;
}

/**
 * Trims `entries` (oldest first) as `XADD MAXLEN ~ maxLen` does: nothing until TRIM_CHUNK entries
 * past `maxLen` are kept, then back to `maxLen` at once; never with `maxLen` 0.
 *
 * @example
 * log.entries.push(entry);
 * trim(log.entries, maxLen);
 */
export function trim(entries: Entry[], maxLen: number): void {
  if (maxLen > 0 && entries.length - maxLen >= TRIM_CHUNK) entries.splice(0, entries.length - maxLen);
}

/**
 * An entry as the store returns it (a new object: fields `d` and, for a replayed one, `g`).
 *
 * @example
 * return batch.map(toRaw);
 */
export function toRaw(entry: Entry): RawEntry {
  const { d, g } = entry.fields;
  return g === undefined ? { id: entry.id, data: d } : { id: entry.id, data: d, onlyGroup: g };
}

/**
 * A dead letter as the store returns it (fields as the Redis scripts write them).
 *
 * @example
 * return deadEntries.slice(from, from + count).map(toDeadLetter);
 */
export function toDeadLetter({ id, fields: f }: Entry): RawDeadLetter {
  return { id, data: f.d, entryId: f.e, group: f.g, consumer: f.c, error: f.err, deliveries: Number(f.n) };
}
