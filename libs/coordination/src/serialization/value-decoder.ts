import { Buffer } from 'node:buffer';
import { DeserializationError } from './serialization.errors.js';
import { addSegment, PathFailure, pathOf, propertySegment, setOwn, TAG, TILDE, tooDeep, TYPED_ARRAYS } from './value-format.js';

const ERRORS = new Map<string, ErrorConstructor>(
  [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError].map((C) => [C.name, C]),
);

/**
 * Restores the values that value-encoder.ts tagged, mutating the fresh `JSON.parse` result in
 * place. Writes go through `setOwn`, so a "__proto__" key stays an own data property.
 *
 * @throws {DeserializationError} on a malformed tag, or an object deeper than `maxDepth`, naming its path.
 */
export function fromJsonTree(parsed: unknown, maxDepth: number): unknown {
  try {
    return revive(parsed, 0, maxDepth);
  } catch (err) {
    if (err instanceof PathFailure) throw new DeserializationError(err.reason, pathOf(err));
    // JSON.parse copes with nesting that overflows this recursive walk.
    throw new DeserializationError('value is nested too deeply', undefined, { cause: err });
  }
}

/**
 * Revives a JSON.parse result in place; objects are only rebuilt when escaped keys need renaming.
 * `depth` counts like the encoder's: a Map, Set or Error is one level, however many JSON
 * containers its tagged form takes.
 */
function revive(value: unknown, depth: number, max: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth > max) throw new PathFailure(tooDeep(max));
  if (Array.isArray(value)) return reviveArray(value, depth, max);
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length > 0 && keys[0] === TAG) return reviveTagged(obj, depth, max);
  let escaped = false;
  let i = 0;
  try {
    for (; i < keys.length; i++) {
      const key = keys[i];
      if (key.charCodeAt(0) === TILDE) {
        if (key.length === 1) throw new PathFailure('a misplaced "~" key');
        escaped = true;
      }
      const item = obj[key];
      if (typeof item === 'object' && item !== null) {
        const revived = revive(item, depth + 1, max);
        if (revived !== item) setOwn(obj, key, revived);
      }
    }
  } catch (err) {
    throw addSegment(err, propertySegment(keys[i] === TAG ? TAG : unescapeKey(keys[i])));
  }
  if (!escaped) return obj;
  const out: Record<string, unknown> = {};
  for (const key of keys) setOwn(out, unescapeKey(key), obj[key]);
  return out;
}

/** Revives the members of `arr`, a container at `depth`, in place. */
function reviveArray(arr: unknown[], depth: number, max: number): unknown[] {
  let i = 0;
  try {
    for (; i < arr.length; i++) arr[i] = revive(arr[i], depth + 1, max);
  } catch (err) {
    throw addSegment(err, `[${i}]`);
  }
  return arr;
}

function reviveTagged(obj: Record<string, unknown>, depth: number, max: number): unknown {
  const kind = obj[TAG];
  const v = obj.v;
  switch (kind) {
    case 'u':
      return undefined;
    case 'n':
      if (v === 'NaN' || v === 'Infinity' || v === '-Infinity' || v === '-0') return Number(v);
      break;
    case 'b':
      if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
      break;
    case 'D':
      if (v === null || typeof v === 'number') return new Date(v ?? Number.NaN);
      break;
    case 'R':
      if (typeof v === 'string' && typeof obj.f === 'string') return toRegExp(v, obj.f);
      break;
    case 'M':
      if (Array.isArray(v) && v.length % 2 === 0) return reviveMap(v, depth, max);
      break;
    case 'S':
      if (Array.isArray(v)) return new Set(reviveArray(v, depth, max));
      break;
    case 'B':
      if (typeof v === 'string') return Buffer.from(v, 'base64');
      break;
    case 'A':
      if (typeof v === 'string') return toArrayBuffer(v);
      break;
    case 'V':
      if (typeof v === 'string') return new DataView(toArrayBuffer(v));
      break;
    case 'T': {
      const Ctor = typeof obj.t === 'string' ? TYPED_ARRAYS.get(obj.t) : undefined;
      const buffer = Ctor !== undefined && typeof v === 'string' ? toArrayBuffer(v) : undefined;
      if (Ctor && buffer && buffer.byteLength % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(buffer);
      break;
    }
    case 'E': {
      // The fields object is the Error itself, one level like the encoder counts it.
      const fields = revive(v, depth, max);
      if (typeof fields === 'object' && fields !== null && Object.getPrototypeOf(fields) === Object.prototype) {
        return reviveError(fields as Record<string, unknown>);
      }
      break;
    }
  }
  throw new PathFailure(`a malformed ${JSON.stringify(kind) ?? 'undefined'} tagged value`);
}

function reviveMap(flat: unknown[], depth: number, max: number): Map<unknown, unknown> {
  const map = new Map<unknown, unknown>();
  reviveArray(flat, depth, max);
  for (let i = 0; i < flat.length; i += 2) map.set(flat[i], flat[i + 1]);
  return map;
}

function reviveError(fields: Record<string, unknown>): Error {
  const name = fields.name;
  const Ctor = (typeof name === 'string' && ERRORS.get(name)) || Error;
  const err = new Ctor(typeof fields.message === 'string' ? fields.message : '');
  for (const key of Object.keys(fields)) {
    if (key === 'message' || (key === 'name' && name === err.name)) continue;
    if (key === 'name' || key === 'stack' || key === 'cause') {
      Object.defineProperty(err, key, { value: fields[key], writable: true, configurable: true, enumerable: false });
    } else {
      setOwn(err as unknown as Record<string, unknown>, key, fields[key]);
    }
  }
  return err;
}

function toArrayBuffer(base64: string): ArrayBuffer {
  const bytes = Buffer.from(base64, 'base64');
  const buffer = new ArrayBuffer(bytes.length); // fresh and aligned, unlike Buffer's shared pool
  new Uint8Array(buffer).set(bytes);
  return buffer;
}

function toRegExp(source: string, flags: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (err) {
    throw new PathFailure(`an invalid RegExp (${(err as Error).message})`);
  }
}

function unescapeKey(key: string): string {
  return key.charCodeAt(0) === TILDE ? key.slice(1) : key;
}


const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * Whether JSON text nests objects or arrays deeper than `maxDepth` (the top-level one at depth 0).
 * Plain values are restored by JSON.parse alone, which copes with any depth, so this is where
 * their depth is bounded. Most texts are cleared without a character loop: one too short to
 * hold that many brackets, or holding too few `[` and `{`, cannot nest that deep.
 */
export function nestsDeeperThan(json: string, maxDepth: number): boolean {
  const levels = maxDepth + 1;
  if (json.length <= 2 * levels) return false;
  if (countUpTo(json, '[', levels + 1) + countUpTo(json, '{', levels + 1) <= levels) return false;
  let level = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === QUOTE) i = closingQuote(json, i);
    else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++level > levels) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) level--;
  }
  return false;
}

function countUpTo(text: string, char: string, max: number): number {
  let count = 0;
  for (let i = text.indexOf(char); i !== -1 && count < max; i = text.indexOf(char, i + 1)) count++;
  return count;
}

/** Index of the quote closing the string opened at `open` (the text's end if there is none). */
function closingQuote(json: string, open: number): number {
  for (let from = open + 1; ; ) {
    const quote = json.indexOf('"', from);
    if (quote === -1) return json.length;
    let backslashes = 0;
    while (json.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}
