import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors/coordination.error.js';

/** Deepest nesting a fingerprint value may have (a request body parser allows far less). */
const MAX_DEPTH = 1_000;

/**
 * The canonical JSON text of `value`: JSON with every object's keys sorted (by UTF-16 code
 * units, recursively), so two values equal as data give the same text whatever their key order.
 * JSON's own rules apply otherwise (`toJSON`, so a Date is its ISO string; `undefined`, functions
 * and symbols are left out of objects and are `null` in arrays; NaN and ±Infinity are `null`);
 * a Buffer or typed array is its base64 text, a Map `{"$map":[[k,v],...]}` (in insertion order),
 * a Set `{"$set":[...]}`, a BigInt `{"$bigint":"<digits>"}`.
 *
 * @throws InvalidArgumentError naming `argument` for a cyclic value or one nested deeper than 1 000 levels.
 * @example
 * canonicalJson({ b: 1, a: [new Date(0), { d: 2, c: 3 }] }); // '{"a":["1970-01-01T00:00:00.000Z",{"c":3,"d":2}],"b":1}'
 */
export function canonicalJson(value: unknown, argument = 'fingerprint'): string {
  return write(value, argument, new Set(), 0) ?? 'null';
}

/**
 * The fingerprint of a request: the sha256 (hex) of the canonical JSON of `value` (see
 * canonicalJson); '' when `value` is undefined (no fingerprint: only the key identifies the request).
 *
 * @example
 * fingerprintOf({ amount: 10, currency: 'EUR' }) === fingerprintOf({ currency: 'EUR', amount: 10 }); // true
 * fingerprintOf(undefined); // ''
 */
export function fingerprintOf(value: unknown, argument = 'fingerprint'): string {
  if (value === undefined) return '';
  return createHash('sha256').update(canonicalJson(value, argument)).digest('hex');
}

/** The JSON text of `value`, or undefined where JSON leaves a value out (undefined, a function, a symbol). */
function write(value: unknown, argument: string, ancestors: Set<object>, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `{"$bigint":"${value.toString()}"}`;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const object = value as object;
  if (ArrayBuffer.isView(object)) return JSON.stringify(Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64'));
  if (depth >= MAX_DEPTH) throw new InvalidArgumentError(argument, `nests deeper than ${MAX_DEPTH} levels`);
  if (ancestors.has(object)) throw new InvalidArgumentError(argument, 'is cyclic (a value contains itself)');
  const toJSON = (object as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return write(toJSON.call(object), argument, ancestors, depth + 1);
  ancestors.add(object);
  try {
    if (object instanceof Map) return `{"$map":${writeArray([...object], argument, ancestors, depth)}}`;
    if (object instanceof Set) return `{"$set":${writeArray([...object], argument, ancestors, depth)}}`;
    if (Array.isArray(object)) return writeArray(object, argument, ancestors, depth);
    const record = object as Record<string, unknown>;
    const parts: string[] = [];
    for (const name of Object.keys(record).sort()) {
      const text = write(record[name], argument, ancestors, depth + 1);
      if (text !== undefined) parts.push(`${JSON.stringify(name)}:${text}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    ancestors.delete(object);
  }
}

function writeArray(items: readonly unknown[], argument: string, ancestors: Set<object>, depth: number): string {
  return `[${items.map((item) => write(item, argument, ancestors, depth + 1) ?? 'null').join(',')}]`;
}
