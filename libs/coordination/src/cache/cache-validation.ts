import { InvalidArgumentError, InvalidKeyError } from '../errors/coordination.error.js';
import { checkObject } from '../errors/check-object.js';
import { MAX_ID_LENGTH } from '../keys/key-builder.js';
import { MAX_CACHE_TTL_MS, type ResolvedCacheOptions } from './cache.options.js';

/** Most tags one entry may carry: each costs a counter read when the entry is read. */
export const MAX_TAGS_PER_ENTRY = 100;

/** A set / getOrSet call's options with the defaults applied. */
export interface CheckedWrite {
  readonly ttlMs: number;
  readonly staleMs: number;
  readonly tags: readonly string[];
  readonly l1: boolean;
}

/**
 * How a `getOrSet` call reads and loads: XFetch early refreshes of fresh hits (`xfetch`), and a
 * reload that skips the cached value (`refresh`).
 *
 * @example
 * const mode = checkLoadMode({ xfetch: false }); // { xfetch: false, refresh: false }
 */
export interface LoadMode {
  readonly xfetch: boolean;
  readonly refresh: boolean;
}

/** `getOrSet` without `xfetch` or `refresh`. */
export const DEFAULT_LOAD_MODE: LoadMode = Object.freeze({ xfetch: true, refresh: false });

const NO_TAGS: readonly string[] = Object.freeze([]);

/**
 * A cache key, tag or pattern: any non-empty string of at most MAX_ID_LENGTH characters (the
 * KeyBuilder encodes every character, so none can escape the tenant's namespace).
 *
 * @throws InvalidKeyError naming `argument` (`key`, `keys[2]`, `tags[0]`, `pattern`)
 */
export function checkId(value: unknown, argument: string): asserts value is string {
  if (typeof value !== 'string') throw new InvalidKeyError(argument, `must be a string, got ${value === null ? 'null' : typeof value}`);
  if (value.length === 0) throw new InvalidKeyError(argument, 'must not be empty');
  if (value.length > MAX_ID_LENGTH) throw new InvalidKeyError(argument, `must be at most ${MAX_ID_LENGTH} characters (got ${value.length})`);
}

/** An array of keys (`mget`, `delete`), each checked as `<argument>[i]`. */
export function checkIds(values: unknown, argument: string): asserts values is readonly string[] {
  if (!Array.isArray(values)) throw new InvalidArgumentError(argument, 'must be an array of strings', values);
  for (let i = 0; i < values.length; i++) checkId(values[i], `${argument}[${i}]`);
}

/** An optional options argument: absent, or an object that is not an array (see checkObject). */
export function checkOptionalObject(value: unknown, argument: string): void {
  if (value === undefined) return;
  checkObject(value, argument);
  if (Array.isArray(value)) throw new InvalidArgumentError(argument, 'must be an object', value);
}

/** The `l1` flag of a read, default `cache.l1.enabled`. */
export function checkRead(options: { l1?: unknown } | undefined, defaults: ResolvedCacheOptions): boolean {
  checkOptionalObject(options, 'options');
  return flag(options?.l1, 'l1', defaults.l1.enabled);
}

/**
 * The ttlMs, staleMs, tags and l1 of `set` / an `mset` entry / `getOrSet`, checked and
 * defaulted (`staleMs` to `cache.staleMs`; with `withStale` false it is not read and is 0).
 */
export function checkWrite(
  options: { ttlMs?: unknown; staleMs?: unknown; tags?: unknown; l1?: unknown } | undefined,
  defaults: ResolvedCacheOptions,
  prefix = '',
  withStale = true,
): CheckedWrite {
  checkOptionalObject(options, prefix === '' ? 'options' : prefix.slice(0, -1));
  return {
    ttlMs: duration(options?.ttlMs, `${prefix}ttlMs`, defaults.defaultTtlMs, false),
    staleMs: withStale ? duration(options?.staleMs, `${prefix}staleMs`, defaults.staleMs, true) : 0,
    tags: checkTags(options?.tags, `${prefix}tags`),
    l1: flag(options?.l1, `${prefix}l1`, defaults.l1.enabled),
  };
}

/** The entries of `mset`: an array, each entry checked as `entries[i]` (key, value, ttlMs, staleMs, tags). */
export function checkEntries(entries: unknown, defaults: ResolvedCacheOptions): CheckedWrite[] {
  if (!Array.isArray(entries)) throw new InvalidArgumentError('entries', 'must be an array of { key, value, ttlMs?, staleMs?, tags? }', entries);
  return entries.map((entry: { key?: unknown; value?: unknown; ttlMs?: unknown; staleMs?: unknown; tags?: unknown } | null, i) => {
    checkOptionalObject(entry ?? null, `entries[${i}]`);
    checkId(entry!.key, `entries[${i}].key`);
    checkValue(entry!.value, `entries[${i}].value`);
    return checkWrite({ ttlMs: entry!.ttlMs, staleMs: entry!.staleMs, tags: entry!.tags }, defaults, `entries[${i}].`);
  });
}

/** Tags of an entry or of `invalidateTags`: distinct ids, at most MAX_TAGS_PER_ENTRY for an entry. */
export function checkTags(tags: unknown, argument: string, limit = MAX_TAGS_PER_ENTRY): readonly string[] {
  if (tags === undefined) return NO_TAGS;
  if (!Array.isArray(tags)) throw new InvalidArgumentError(argument, 'must be an array of strings', tags);
  if (tags.length > limit) throw new InvalidArgumentError(argument, `must hold at most ${limit} tags (got ${tags.length})`);
  for (let i = 0; i < tags.length; i++) checkId(tags[i], `${argument}[${i}]`);
  return tags.length < 2 ? (tags as string[]) : [...new Set(tags as string[])];
}

/** `undefined` cannot be cached (a miss is `undefined`); `null` can. */
export function checkValue(value: unknown, argument: string): void {
  if (value === undefined) throw new InvalidArgumentError(argument, 'undefined cannot be cached (use null, or delete the key)');
}

/** The `xfetch` (default true) and `refresh` (default false) flags of `getOrSetState` (options already checked as an object). */
export function checkLoadMode(options: { xfetch?: unknown; refresh?: unknown } | undefined): LoadMode {
  if (options === undefined || (options.xfetch === undefined && options.refresh === undefined)) return DEFAULT_LOAD_MODE;
  return { xfetch: flag(options.xfetch, 'xfetch', true), refresh: flag(options.refresh, 'refresh', false) };
}

export function checkLoader(loader: unknown): void {
  if (typeof loader !== 'function') throw new InvalidArgumentError('loader', `must be a function, got ${loader === null ? 'null' : typeof loader}`);
}

function duration(value: unknown, argument: string, fallback: number, zeroAllowed: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new InvalidArgumentError(argument, 'must be a number of ms', value);
  if (zeroAllowed ? value < 0 : value <= 0) throw new InvalidArgumentError(argument, zeroAllowed ? 'must not be negative' : 'must be greater than 0', value);
  if (value > MAX_CACHE_TTL_MS) throw new InvalidArgumentError(argument, `must be at most ${MAX_CACHE_TTL_MS} ms (365 days)`, value);
  return Math.ceil(value);
}

function flag(value: unknown, argument: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidArgumentError(argument, 'must be a boolean', value);
  return value;
}
