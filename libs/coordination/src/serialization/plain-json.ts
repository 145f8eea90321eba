/** Header of a serialized value that `JSON.parse` alone restores (see serializer.ts). */
const PLAIN_HEADER = '1J';

/**
 * Whether `text` (a serialized value) is plain JSON: no Dates, Maps, BigInts, Buffers... to
 * revive, and not compressed. Its decoded value is then made of plain objects, arrays, strings,
 * numbers, booleans and null only, which {@link clonePlainJson} copies.
 *
 * @example
 * isPlainJson(serializer.encode({ a: 1 }));          // true
 * isPlainJson(serializer.encode({ at: new Date() })); // false
 */
export function isPlainJson(text: string): boolean {
  return text.startsWith(PLAIN_HEADER);
}

/** The value of a plain-JSON serialized `text` (see {@link isPlainJson}); no depth check: for text this serializer wrote or already decoded. */
export function parsePlainJson(text: string): unknown {
  return JSON.parse(text.slice(PLAIN_HEADER.length));
}

/**
 * A deep copy of a value made of plain objects, arrays and primitives (what JSON.parse
 * returns), about three times faster than parsing its JSON again. Own `__proto__` keys stay
 * own data properties, as JSON.parse makes them.
 *
 * @example
 * const copy = clonePlainJson(JSON.parse('{"a":[1,{"b":2}]}')); // a new object, arrays and all
 */
export function clonePlainJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const array = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) array[i] = clonePlainJson(value[i]);
    return array as T;
  }
  const source = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  const keys = Object.keys(source);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (key === '__proto__') Object.defineProperty(copy, key, { value: clonePlainJson(source[key]), enumerable: true, writable: true, configurable: true });
    else copy[key] = clonePlainJson(source[key]);
  }
  return copy as T;
}
