/**
 * The replies of Redis read by RedisStreamStore and its reader, into typed results (and nowhere
 * else). The connection speaks RESP3 with ioredis's `legacy` reply mapping: maps arrive as flat
 * `[key, value, ...]` arrays, i.e. the RESP2 shapes.
 */
import { isNoGroupReply, StreamGroupMissingError } from './stream-group-missing.js';
import type { ClaimReply, DeliveredEntry, RawDeadLetter, RawEntry, StreamKeyPair } from './stream-store.interface.js';
import type { PendingSummary, StreamGroupInfo } from './stream.types.js';

/**
 * The public operation the consumer's calls serve, as errors name it.
 *
 * @example
 * throw new RedisUnavailableError(CONSUME, cause);
 */
export const CONSUME = 'streams.consume';

/**
 * An entry as XRANGE / XREADGROUP reply it: its id and its fields as a flat `[name, value, ...]`
 * array (null once trimmed).
 *
 * @example
 * const entries = toEntries((await client.xrange(key, '-', '+')) as EntryReply[]);
 */
export type EntryReply = [id: string, fields: string[] | null];

/**
 * The claim script's reply (lua/claim.lua).
 *
 * @example
 * toClaimed(await connection.runScript<ClaimScriptReply>(STREAM_SCRIPTS.claim, keys, args));
 */
export type ClaimScriptReply = [next: string, deadLettered: number, trimmed: number, flat: Array<string | number>];

/**
 * XPENDING summary: count, lowest and highest id, and `[consumer, count-as-string]` pairs (nulls when none).
 *
 * @example
 * toPending((await client.xpending(key, group)) as PendingReply);
 */
export type PendingReply = [count: number, oldest: string | null, newest: string | null, consumers: Array<[string, string]> | null];

/**
 * XINFO GROUPS: per group a flat `[name, value, ...]` array (name, consumers, pending,
 * last-delivered-id, entries-read, lag).
 *
 * @example
 * toGroups((await client.xinfo('GROUPS', key)) as GroupReply[]);
 */
export type GroupReply = Array<string | number | null>;

/**
 * The pending summary of a missing group or stream.
 *
 * @example
 * if (isNoGroupReply(error)) return NO_PENDING;
 */
export const NO_PENDING: PendingSummary = Object.freeze({ count: 0, oldestId: null, newestId: null, consumers: Object.freeze({}) });

/**
 * StreamGroupMissingError for a NOGROUP reply error, any other error as it is.
 *
 * @example
 * catch (error) { throw groupMissingOr(error, keys, group); }
 */
export const groupMissingOr = (error: unknown, keys: StreamKeyPair, group: string): unknown =>
  isNoGroupReply(error) ? new StreamGroupMissingError(keys.stream, group, { cause: error }) : error;

/** The value of field `name` of a flat `[name, value, ...]` array, or undefined. */
function field(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function toEntry(id: string, fields: readonly string[]): RawEntry {
  const onlyGroup = field(fields, 'g');
  return onlyGroup ? { id, data: field(fields, 'd') ?? '', onlyGroup } : { id, data: field(fields, 'd') ?? '' };
}

/**
 * Entries of XRANGE / XREADGROUP `>` (never trimmed ones: those come only from own history,
 * read by the claim script).
 *
 * @example
 * return reply === null ? [] : toEntries(reply[0][1]);
 */
export function toEntries(reply: readonly EntryReply[]): RawEntry[] {
  const entries: RawEntry[] = [];
  for (const [id, fields] of reply) if (fields) entries.push(toEntry(id, fields));
  return entries;
}

/**
 * The claim script's reply as a ClaimReply.
 *
 * @example
 * toClaimed(['', 0, 1, ['1-0', 'data', '', 2]]); // { entries: [{ id: '1-0', data: 'data', deliveries: 2 }], deadLettered: 0, trimmed: 1, next: null }
 */
export function toClaimed([next, deadLettered, trimmed, flat]: ClaimScriptReply): ClaimReply {
  const entries: DeliveredEntry[] = [];
  for (let i = 0; i < flat.length; i += 4) {
    const onlyGroup = flat[i + 2] as string;
    const entry = { id: flat[i] as string, data: flat[i + 1] as string, deliveries: Number(flat[i + 3]) };
    entries.push(onlyGroup === '' ? entry : { ...entry, onlyGroup });
  }
  return { entries, deadLettered: Number(deadLettered), trimmed: Number(trimmed), next: next === '' ? null : next };
}

/**
 * XPENDING's summary as a PendingSummary.
 *
 * @example
 * toPending([3, '1-0', '1-2', [['__proto__', '3']]]).consumers; // { ['__proto__']: 3 } (an own property)
 */
export function toPending([count, oldestId, newestId, rows]: PendingReply): PendingSummary {
  // Own properties, whatever the names (an assignment to `__proto__` would set the prototype).
  const consumers = Object.fromEntries((rows ?? []).map(([name, n]) => [name, Number(n)]));
  return { count: Number(count), oldestId, newestId, consumers };
}

/**
 * XINFO GROUPS as StreamGroupInfo (lag null where Redis cannot tell it).
 *
 * @example
 * toGroups([['name', 'billing', 'consumers', 1, 'pending', 2, 'last-delivered-id', '1-1', 'entries-read', 2, 'lag', 3]]);
 */
export function toGroups(reply: readonly GroupReply[]): StreamGroupInfo[] {
  return reply.map((flat) => {
    const info = new Map<string, string | number | null>();
    for (let i = 0; i < flat.length; i += 2) info.set(String(flat[i]), flat[i + 1]);
    const lag = info.get('lag');
    return {
      group: String(info.get('name')),
      consumers: Number(info.get('consumers')),
      pending: Number(info.get('pending')),
      lag: lag === null || lag === undefined ? null : Number(lag),
      lastDeliveredId: String(info.get('last-delivered-id')),
    };
  });
}

/**
 * XRANGE of a dead-letter stream as RawDeadLetters (fields `d`, `e`, `g`, `c`, `err`, `n`).
 *
 * @example
 * toDeadLetters((await client.xrange(keys.dead, '-', '+', 'COUNT', 10)) as EntryReply[]);
 */
export function toDeadLetters(reply: readonly EntryReply[]): RawDeadLetter[] {
  const letters: RawDeadLetter[] = [];
  for (const [id, fields] of reply) {
    if (!fields) continue;
    letters.push({
      id,
      data: field(fields, 'd') ?? '',
      entryId: field(fields, 'e') ?? '',
      group: field(fields, 'g') ?? '',
      consumer: field(fields, 'c') ?? '',
      error: field(fields, 'err') ?? '',
      deliveries: Number(field(fields, 'n') ?? 0),
    });
  }
  return letters;
}
