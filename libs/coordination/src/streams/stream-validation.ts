import { InvalidArgumentError } from '../errors/coordination.error.js';
import { checkObject } from '../errors/check-object.js';
import { MAX_ID_LENGTH, kindOf } from '../keys/key-builder.js';
import { CONSUMER_LIMITS, MAX_READ_COUNT, MAX_STREAM_LENGTH, type ResolvedStreamConsumerDefaults } from './stream.options.js';
import type { ConsumeOptions, StreamRef } from './stream.types.js';

/**
 * Longest group or consumer name.
 *
 * @example
 * await streams.consume('orders', 'billing', handler, { consumer: `worker-${index}` }); // each name at most MAX_GROUP_NAME_LENGTH characters
 */
export const MAX_GROUP_NAME_LENGTH = 200;

const ENTRY_ID = /^(\d+)-(\d+)$/;
/** Each part of an entry id is an unsigned 64-bit integer. */
const MAX_ID_PART = 2n ** 64n - 1n;

/**
 * The largest entry id there is (both parts 2^64 - 1): no entry comes after it.
 *
 * @example
 * if (after === LAST_ENTRY_ID) return []; // XRANGE refuses an exclusive start past it
 */
export const LAST_ENTRY_ID = `${MAX_ID_PART}-${MAX_ID_PART}`;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const START_FROM: ReadonlyArray<unknown> = ['earliest', 'latest'];

/**
 * The name of a stream argument (a string or a StreamDefinition): 1 to MAX_ID_LENGTH characters.
 * Any character is allowed: the key builder encodes it.
 *
 * @example
 * const name = streamName(stream); // 'orders' for 'orders' and for defineStream('orders')
 */
export function streamName(stream: StreamRef): string {
  const name: unknown = typeof stream === 'object' && stream !== null ? (stream as { name?: unknown }).name : stream;
  if (typeof name !== 'string') throw new InvalidArgumentError('stream', `must be a name or a StreamDefinition, got ${kindOf(stream)}`);
  if (name.length === 0) throw new InvalidArgumentError('stream', 'must not be empty');
  if (name.length > MAX_ID_LENGTH) throw new InvalidArgumentError('stream', `must be at most ${MAX_ID_LENGTH} characters (got ${name.length})`);
  return name;
}

/**
 * A group or consumer name: 1 to 200 characters without control characters (they reach Redis
 * as they are, and show in XINFO and logs).
 *
 * @example
 * checkGroupName(group, 'group');
 */
export function checkGroupName(value: unknown, argument: string): asserts value is string {
  if (typeof value !== 'string') throw new InvalidArgumentError(argument, `must be a string, got ${kindOf(value)}`);
  if (value.length === 0) throw new InvalidArgumentError(argument, 'must not be empty');
  if (value.length > MAX_GROUP_NAME_LENGTH) {
    throw new InvalidArgumentError(argument, `must be at most ${MAX_GROUP_NAME_LENGTH} characters (got ${value.length})`);
  }
  if (CONTROL.test(value)) throw new InvalidArgumentError(argument, 'must not contain control characters', value);
}

/**
 * A stream entry id (`<ms>-<seq>`, each part at most 2^64 - 1 as in Redis), or undefined when
 * optional and absent. `dash` also accepts `-` (the oldest entry, for `from`).
 *
 * @example
 * const after = checkEntryId(options.after, 'after', true); // undefined or '1700000000000-0'
 */
export function checkEntryId(value: unknown, argument: string, optional: boolean, dash = false): string | undefined {
  if (value === undefined && optional) return undefined;
  if (dash && value === '-') return value;
  const parts = typeof value === 'string' ? ENTRY_ID.exec(value) : null;
  if (parts === null || BigInt(parts[1]) > MAX_ID_PART || BigInt(parts[2]) > MAX_ID_PART) {
    throw new InvalidArgumentError(argument, `must be a stream entry id "<ms>-<seq>" (each part at most ${MAX_ID_PART})${dash ? ' or "-"' : ''}`, value);
  }
  return value as string;
}

/**
 * When an entry was appended: the milliseconds part of its id (the server's clock).
 *
 * @example
 * appendedAt('1700000000000-3'); // 2023-11-14T22:13:20.000Z
 */
export function appendedAt(id: string): Date {
  return new Date(Number(id.slice(0, id.indexOf('-'))));
}

/**
 * A page size: an integer from 1 to MAX_READ_COUNT, `fallback` when undefined.
 *
 * @example
 * const count = checkCount(options?.count, 100);
 */
export function checkCount(value: unknown, fallback: number): number {
  return checkInteger(value, 'count', 1, MAX_READ_COUNT, fallback);
}

/**
 * An append's `maxLen`: an integer from 0 (never trim) to MAX_STREAM_LENGTH, `fallback` when undefined.
 *
 * @example
 * const maxLen = checkMaxLen(options?.maxLen, definitionMaxLen ?? streamOptions.maxLen);
 */
export function checkMaxLen(value: unknown, fallback: number): number {
  return checkInteger(value, 'maxLen', 0, MAX_STREAM_LENGTH, fallback);
}

/**
 * The `maxLen` of a stream argument: a StreamDefinition's (checked like an append's: a
 * definition may be built by hand, not by defineStream), else `fallback`. A bad one names the
 * `stream` argument.
 *
 * @example
 * const maxLen = definitionMaxLen(stream, streamOptions.maxLen);
 */
export function definitionMaxLen(stream: StreamRef, fallback: number): number {
  const maxLen: unknown = typeof stream === 'object' && stream !== null ? stream.maxLen : undefined;
  if (maxLen === undefined) return fallback;
  if (typeof maxLen !== 'number' || !Number.isInteger(maxLen) || maxLen < 0 || maxLen > MAX_STREAM_LENGTH) {
    throw new InvalidArgumentError('stream', `its maxLen must be an integer from 0 to ${MAX_STREAM_LENGTH}`, maxLen);
  }
  return maxLen;
}

/**
 * An optional options argument: absent, or an object that is not an array.
 *
 * @example
 * checkOptions(options); // before reading options.count
 */
export function checkOptions(value: unknown): void {
  if (value === undefined) return;
  checkObject(value, 'options');
  if (Array.isArray(value)) throw new InvalidArgumentError('options', 'must be an object');
}

/**
 * The settings of one consumer: each `consume` option within CONSUMER_LIMITS, else the
 * module's `consumerDefaults`.
 *
 * @example
 * const settings = consumerSettings(options, streamOptions.consumerDefaults);
 */
export function consumerSettings(options: ConsumeOptions | undefined, defaults: ResolvedStreamConsumerDefaults): ResolvedStreamConsumerDefaults {
  const o = options ?? {};
  const L = CONSUMER_LIMITS;
  if (o.startFrom !== undefined && !START_FROM.includes(o.startFrom)) {
    throw new InvalidArgumentError('startFrom', 'must be "earliest" or "latest"', o.startFrom);
  }
  return {
    concurrency: checkInteger(o.concurrency, 'concurrency', L.concurrency.min, L.concurrency.max, defaults.concurrency),
    batch: checkInteger(o.batch, 'batch', L.batch.min, L.batch.max, defaults.batch),
    blockMs: checkInteger(o.blockMs, 'blockMs', L.blockMs.min, L.blockMs.max, defaults.blockMs),
    maxDeliveries: checkInteger(o.maxDeliveries, 'maxDeliveries', L.maxDeliveries.min, L.maxDeliveries.max, defaults.maxDeliveries),
    claimIdleMs: checkInteger(o.claimIdleMs, 'claimIdleMs', L.claimIdleMs.min, L.claimIdleMs.max, defaults.claimIdleMs),
    startFrom: o.startFrom ?? defaults.startFrom,
  };
}

/**
 * A handler argument: a function.
 *
 * @example
 * checkHandler(handler);
 */
export function checkHandler(value: unknown): void {
  if (typeof value !== 'function') throw new InvalidArgumentError('handler', `must be a function, got ${kindOf(value)}`);
}

function checkInteger(value: unknown, argument: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(argument, `must be an integer from ${min} to ${max}`, value);
  }
  return value;
}
