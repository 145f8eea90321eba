/**
 * The format of one cache entry in Redis: a short header, then the serialized value.
 *
 * ```
 * c1;<freshUntilMs>;<loaderMs>;<tagsLength>;<tags><serialized value>
 * ```
 *
 * - `c1`: format version; an entry of another version reads as a miss (and is overwritten by
 *   the next write), so a rolling upgrade never misreads one.
 * - `freshUntilMs`: until when (the writer's clock) the entry is fresh; afterwards it is stale,
 *   served only within a `getOrSet` call's `staleMs`.
 * - `loaderMs`: how long the loader took (XFetch weighs early refreshes by it); 0 for `set`.
 * - `tagsLength`: characters of the tag block that follows (0 without tags), so the value of an
 *   untagged entry starts after four `;` and its header is read with four indexOf calls.
 * - tag block: per tag `<version>,<keyLength>,<tag counter key>`: the counter's version when the
 *   value was loaded. Key lengths make any character safe in a key.
 */
const VERSION = 'c1';
const NO_TAGS: readonly string[] = Object.freeze([]);
const NO_VERSIONS: readonly number[] = Object.freeze([]);

/** The header of an entry, read by {@link parseEntry}. */
export interface CacheEntryHeader {
  /** Until when (writer's clock ms) the entry is fresh. */
  readonly freshUntil: number;
  /** How long its loader took, ms; 0 when written by `set`. */
  readonly deltaMs: number;
  /** Full keys of its tag counters. */
  readonly tagKeys: readonly string[];
  /** The version of each tag counter when the value was loaded, in `tagKeys` order. */
  readonly tagVersions: readonly number[];
  /** Where the serialized value starts in the entry text. */
  readonly bodyStart: number;
}

/**
 * The entry text of a serialized value (`body`, from the serializer).
 *
 * @example
 * const text = encodeEntry(serializer.encode(value), now + ttlMs, loaderMs, [tagKey], [3]);
 * await store.set(entryKey, text, ttlMs + staleMs);
 */
export function encodeEntry(
  body: string, freshUntil: number, deltaMs: number, tagKeys: readonly string[], tagVersions: readonly number[],
): string {
  let tags = '';
  for (let i = 0; i < tagKeys.length; i++) tags += `${tagVersions[i]},${tagKeys[i].length},${tagKeys[i]}`;
  return `${VERSION};${freshUntil};${deltaMs};${tags.length};${tags}${body}`;
}

/**
 * The header of an entry text, or undefined when the text is not an entry of this format
 * (another version, a foreign value, a truncated write): the caller takes it for a miss.
 *
 * @example
 * const header = parseEntry(text);
 * if (header && header.freshUntil > clock.now()) return serializer.decode(text.slice(header.bodyStart));
 */
export function parseEntry(text: string): CacheEntryHeader | undefined {
  if (!text.startsWith('c1;')) return undefined;
  const a = text.indexOf(';', 3);
  const b = a < 0 ? -1 : text.indexOf(';', a + 1);
  const c = b < 0 ? -1 : text.indexOf(';', b + 1);
  if (c < 0) return undefined;
  const freshUntil = numberIn(text, 3, a);
  const deltaMs = numberIn(text, a + 1, b);
  const tagsLength = numberIn(text, b + 1, c);
  const bodyStart = c + 1 + tagsLength;
  if (Number.isNaN(freshUntil) || !(deltaMs >= 0) || !Number.isSafeInteger(tagsLength) || tagsLength < 0 || bodyStart > text.length) {
    return undefined;
  }
  if (tagsLength === 0) return { freshUntil, deltaMs, tagKeys: NO_TAGS, tagVersions: NO_VERSIONS, bodyStart };
  const tags = parseTags(text, c + 1, bodyStart);
  return tags && { freshUntil, deltaMs, tagKeys: tags.keys, tagVersions: tags.versions, bodyStart };
}

/**
 * Whether every tag counter still has the version the entry was loaded under (`current`, in
 * `header.tagKeys` order, from `CacheStore.readCounters`). An entry without tags always is.
 *
 * @example
 * const valid = header.tagKeys.length === 0 || tagsCurrent(header, await store.readCounters(header.tagKeys));
 */
export function tagsCurrent(header: CacheEntryHeader, current: readonly number[]): boolean {
  for (let i = 0; i < header.tagVersions.length; i++) if (current[i] !== header.tagVersions[i]) return false;
  return true;
}

function numberIn(text: string, start: number, end: number): number {
  return start === end ? NaN : Number(text.slice(start, end));
}

function parseTags(text: string, start: number, end: number): { keys: string[]; versions: number[] } | undefined {
  const keys: string[] = [];
  const versions: number[] = [];
  let at = start;
  while (at < end) {
    const comma = text.indexOf(',', at);
    const second = comma < 0 ? -1 : text.indexOf(',', comma + 1);
    if (second < 0 || second >= end) return undefined;
    const version = numberIn(text, at, comma);
    const length = numberIn(text, comma + 1, second);
    const keyEnd = second + 1 + length;
    if (!Number.isSafeInteger(version) || !Number.isSafeInteger(length) || length < 1 || keyEnd > end) return undefined;
    versions.push(version);
    keys.push(text.slice(second + 1, keyEnd));
    at = keyEnd;
  }
  return { keys, versions };
}
