import { Buffer } from 'node:buffer';
import { types } from 'node:util';
import { SerializationError } from './serialization.errors.js';
import { addSegment, PathFailure, pathOf, propertySegment, setOwn, TAG, TILDE, tooDeep, TYPED_ARRAYS } from './value-format.js';

const UNDEFINED = { '~': 'u' };
// Cycle tracking costs a Set operation per object, and a shallow value cannot hide a cycle, so the
// walk only restarts with tracking on once it gets this deep (or deeper than the limit, so that a
// cycle is reported as a cycle rather than as too deep).
const UNTRACKED_DEPTH = 256;
const RESTART = Symbol('restart with cycle tracking');

interface EncodeState {
  seen: Set<object> | undefined;
  /** Depth past which the untracked walk restarts with tracking on. */
  readonly untrackedDepth: number;
  readonly maxDepth: number;
}

/**
 * Maps a value onto the JSON data model (see value-format.ts) in one walk. Copy-on-write: when
 * nothing needs a tag or an escaped key, the input itself comes back, which tells the caller
 * that plain `JSON.parse` will restore it.
 *
 * Objects (arrays, Maps, Sets, Errors, ...) may sit at most `maxDepth` levels below the value
 * itself, which keeps both this recursive walk and every reader of the result off the end of
 * the stack.
 *
 * @throws {SerializationError} naming the path of the first value that cannot be stored.
 */
export function toJsonTree(value: unknown, maxDepth: number): unknown {
  const untrackedDepth = Math.min(UNTRACKED_DEPTH, maxDepth);
  try {
    try {
      return encodeValue(value, { seen: undefined, untrackedDepth, maxDepth }, 0);
    } catch (err) {
      if (err !== RESTART) throw err;
      return encodeValue(value, { seen: new Set(), untrackedDepth, maxDepth }, 0);
    }
  } catch (err) {
    if (err instanceof PathFailure) throw new SerializationError(pathOf(err), err.reason);
    throw err;
  }
}

function encodeValue(value: unknown, st: EncodeState, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return { '~': 'n', v: Object.is(value, -0) ? '-0' : String(value) };
    case 'undefined':
      return UNDEFINED;
    case 'bigint':
      return { '~': 'b', v: value.toString() };
    case 'object':
      return value === null ? null : encodeObject(value, st, depth);
    case 'function':
      throw new PathFailure('a function');
    default:
      throw new PathFailure('a symbol');
  }
}

function encodeObject(obj: object, st: EncodeState, depth: number): unknown {
  if (st.seen === undefined) {
    if (depth > st.untrackedDepth) throw RESTART;
  } else {
    if (st.seen.has(obj)) throw new PathFailure('a circular reference');
    if (depth > st.maxDepth) throw new PathFailure(tooDeep(st.maxDepth));
    st.seen.add(obj);
  }
  try {
    if (Array.isArray(obj)) return encodeArray(obj, st, depth);
    const proto: unknown = Object.getPrototypeOf(obj);
    if (proto === Object.prototype || proto === null) {
      return typeof (obj as { toJSON?: unknown }).toJSON === 'function'
        ? encodeToJson(obj, st, depth)
        : encodeProps(obj as Record<string, unknown>, st, depth, false);
    }
    return encodeSpecial(obj, st, depth);
  } finally {
    st.seen?.delete(obj);
  }
}

function encodeArray(arr: unknown[], st: EncodeState, depth: number): unknown[] {
  let out: unknown[] | undefined;
  let i = 0;
  try {
    for (; i < arr.length; i++) {
      const item = arr[i];
      const encoded = encodeValue(item, st, depth + 1);
      if (out !== undefined) out.push(encoded);
      else if (encoded !== item) (out = arr.slice(0, i)).push(encoded);
    }
  } catch (err) {
    throw addSegment(err, `[${i}]`);
  }
  return out ?? arr;
}

/** Copy-on-write: returns `obj` itself unless a value was tagged or a key escaped (or `copy`). */
function encodeProps(obj: Record<string, unknown>, st: EncodeState, depth: number, copy: boolean): unknown {
  const keys = Object.keys(obj);
  let out: Record<string, unknown> | undefined = copy ? {} : undefined;
  let i = 0;
  try {
    for (; i < keys.length; i++) {
      const key = keys[i];
      const item = obj[key];
      const encoded = encodeValue(item, st, depth + 1);
      const outKey = key.charCodeAt(0) === TILDE ? TAG + key : key;
      if (out === undefined) {
        if (encoded === item && outKey === key) continue;
        out = {};
        for (let j = 0; j < i; j++) setOwn(out, keys[j], obj[keys[j]]);
      }
      setOwn(out, outKey, encoded);
    }
  } catch (err) {
    throw addSegment(err, propertySegment(keys[i]));
  }
  return out ?? obj;
}

function encodeToJson(obj: object, st: EncodeState, depth: number): unknown {
  const result: unknown = (obj as { toJSON(key: string): unknown }).toJSON('');
  // A copy, so JSON.stringify never calls toJSON a second time.
  if (result === obj) return encodeProps(obj as Record<string, unknown>, st, depth, true);
  return encodeValue(result, st, depth + 1);
}

function encodeSpecial(obj: object, st: EncodeState, depth: number): unknown {
  if (types.isDate(obj)) {
    const time = obj.getTime();
    return { '~': 'D', v: Number.isNaN(time) ? null : time };
  }
  if (types.isMap(obj)) return { '~': 'M', v: encodeEntries(obj, st, depth) };
  if (types.isSet(obj)) return { '~': 'S', v: encodeEntries(obj, st, depth) };
  if (ArrayBuffer.isView(obj)) {
    const base64 = Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString('base64');
    if (Buffer.isBuffer(obj)) return { '~': 'B', v: base64 };
    if (types.isDataView(obj)) return { '~': 'V', v: base64 };
    const name = (obj as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag];
    if (!TYPED_ARRAYS.has(name)) throw new PathFailure(`an unsupported ${name}`);
    return { '~': 'T', t: name, v: base64 };
  }
  if (types.isArrayBuffer(obj)) return { '~': 'A', v: Buffer.from(obj).toString('base64') };
  if (types.isRegExp(obj)) return { '~': 'R', v: obj.source, f: obj.flags };
  if (types.isNativeError(obj)) return { '~': 'E', v: encodeProps(errorFields(obj), st, depth, false) };
  if (types.isBoxedPrimitive(obj)) return encodeValue(obj.valueOf(), st, depth);
  const rejected = rejectedKind(obj);
  if (rejected !== undefined) throw new PathFailure(rejected);
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') return encodeToJson(obj, st, depth);
  // Like JSON.stringify: own enumerable string keys; the prototype does not survive.
  return encodeProps(obj as Record<string, unknown>, st, depth, false);
}

function rejectedKind(obj: object): string | undefined {
  if (types.isPromise(obj)) return 'a Promise';
  if (types.isWeakMap(obj)) return 'a WeakMap';
  if (types.isWeakSet(obj)) return 'a WeakSet';
  if (typeof WeakRef === 'function' && obj instanceof WeakRef) return 'a WeakRef';
  if (types.isSharedArrayBuffer(obj)) return 'a SharedArrayBuffer';
  if (types.isGeneratorObject(obj)) return 'a generator';
  return undefined;
}

/** Map: flat [k0, v0, k1, v1, ...]; Set: its members. */
function encodeEntries(source: Map<unknown, unknown> | Set<unknown>, st: EncodeState, depth: number): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  let segment = '';
  try {
    if (types.isMap(source)) {
      for (const [key, value] of source) {
        segment = `.keys()[${i}]`;
        out.push(encodeValue(key, st, depth + 1));
        segment = `.get(${describeKey(key, i++)})`;
        out.push(encodeValue(value, st, depth + 1));
      }
    } else {
      for (const member of source) {
        segment = `.values()[${i++}]`;
        out.push(encodeValue(member, st, depth + 1));
      }
    }
  } catch (err) {
    throw addSegment(err, segment);
  }
  return out;
}

function errorFields(err: Error): Record<string, unknown> {
  const fields: Record<string, unknown> = { name: err.name, message: err.message };
  if (typeof err.stack === 'string') fields.stack = err.stack;
  if ('cause' in err) fields.cause = err.cause;
  for (const key of Object.keys(err)) setOwn(fields, key, (err as unknown as Record<string, unknown>)[key]);
  return fields;
}

function describeKey(key: unknown, index: number): string {
  if (typeof key === 'string') return JSON.stringify(key);
  if (typeof key === 'number' || typeof key === 'boolean' || key == null) return String(key);
  return typeof key === 'bigint' ? `${key}n` : `<key ${index}>`;
}

