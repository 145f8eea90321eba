/**
 * Shared pieces of the v1 value format (internal, not exported from the package).
 *
 * A value the JSON data model cannot hold becomes a tagged object whose first key is "~":
 * `{"~":"u"}` undefined, `{"~":"n","v":"NaN"|"Infinity"|"-Infinity"|"-0"}`, `{"~":"b","v":"123"}`
 * BigInt, `{"~":"D","v":epochMs|null}` Date, `{"~":"R","v":source,"f":flags}` RegExp,
 * `{"~":"M","v":[k0,v0,k1,v1,...]}` Map, `{"~":"S","v":[...]}` Set, `{"~":"B","v":base64}` Buffer,
 * `{"~":"T","t":"Int16Array","v":base64}` typed array, `{"~":"A","v":base64}` ArrayBuffer,
 * `{"~":"V","v":base64}` DataView, `{"~":"E","v":{name,message,stack?,cause?,...}}` Error.
 * A user key starting with "~" is stored with one more "~" in front, so no user object is ever
 * read back as a tag and keys like "__type" or "$type" need no care at all.
 */
export const TAG = '~';
export const TILDE = 0x7e;

export type TypedArrayConstructor = {
  new (buffer: ArrayBuffer): ArrayBufferView;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};
const TYPED_ARRAY_LIST: TypedArrayConstructor[] = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array];
TYPED_ARRAY_LIST.push(Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array);
/** A Map, not an object literal, so a hostile name like "constructor" finds nothing. */
export const TYPED_ARRAYS: ReadonlyMap<string, TypedArrayConstructor> = new Map(
  TYPED_ARRAY_LIST.map((C) => [C.name, C]),
);

/** Why a value nested deeper than `maxDepth` is refused, on the way in and on the way out. */
export function tooDeep(maxDepth: number): string {
  return `an object nested deeper than ${maxDepth} levels (SerializerOptions.maxDepth)`;
}

/** Thrown inside the walks; each container it crosses adds its segment on the way out. */
export class PathFailure {
  readonly segments: string[] = [];
  constructor(readonly reason: string) {}
}

/** Re-throw helper: the innermost container adds its segment first. */
export function addSegment(err: unknown, segment: string): unknown {
  if (err instanceof PathFailure) err.segments.push(segment);
  return err;
}

export function pathOf(failure: PathFailure): string {
  return '$' + failure.segments.slice().reverse().join('');
}

export function propertySegment(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** Plain assignment of "__proto__" would replace the prototype instead of adding data. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}
