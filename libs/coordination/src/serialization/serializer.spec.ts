import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { ErrorCode, InvalidOptionsError } from '../errors/coordination.error.js';
import {
  DEFAULT_SERIALIZER_OPTIONS,
  DeserializationError,
  isCompressed,
  SerializationError,
  Serializer,
} from './index.js';

const serializer = new Serializer();
const roundTrip = <T>(value: T, s: Serializer = serializer): T => s.decode<T>(s.encode(value));

/**
 * Stricter than toStrictEqual and node:assert: Object.is on leaves (-0, NaN, invalid Dates), prototypes,
 * bytes of binary data, and the order of keys, Map entries and Set members. Returns where they differ.
 */
function difference(actual: unknown, expected: unknown, path = '$'): string | undefined {
  if (Object.is(actual, expected)) return undefined;
  if (typeof actual !== 'object' || typeof expected !== 'object' || actual === null || expected === null) return path;
  if (Object.getPrototypeOf(actual) !== Object.getPrototypeOf(expected)) return `${path} (prototype)`;
  if (actual instanceof Date) return Object.is(actual.getTime(), (expected as Date).getTime()) ? undefined : path;
  if (actual instanceof RegExp || actual instanceof Error) {
    return String(actual) === String(expected) ? undefined : path;
  }
  if (ArrayBuffer.isView(actual) || actual instanceof ArrayBuffer) {
    const bytes = (v: ArrayBufferView | ArrayBuffer) =>
      ArrayBuffer.isView(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(v);
    return bytes(actual).equals(bytes(expected as ArrayBuffer)) ? undefined : `${path} (bytes)`;
  }
  if (actual instanceof Map || actual instanceof Set) {
    return difference([...actual], [...(expected as Set<unknown>)], path);
  }
  const keys = Object.keys(actual);
  if (JSON.stringify(keys) !== JSON.stringify(Object.keys(expected))) return `${path} (keys)`;
  for (const key of keys) {
    const [a, b] = [actual, expected] as Array<Record<string, unknown>>;
    const found = difference(a[key], b[key], `${path}[${JSON.stringify(key)}]`);
    if (found !== undefined) return found;
  }
  return undefined;
}
const expectSame = (actual: unknown, expected: unknown): void => expect(difference(actual, expected)).toBeUndefined();
const expectExactRoundTrip = (value: unknown): void => expectSame(roundTrip(value), value);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function expectSerializationError(value: unknown, path: string, reason: string): void {
  const err = thrown(() => serializer.encode(value));
  expect(err).toBeInstanceOf(SerializationError);
  expect(err).toMatchObject({ code: ErrorCode.Serialization, path, message: `Cannot serialize ${reason} at ${path}` });
}

function expectDeserializationError(text: string, message: RegExp): void {
  const err = thrown(() => serializer.decode(text));
  expect(err).toBeInstanceOf(DeserializationError);
  expect((err as DeserializationError).code).toBe(ErrorCode.Deserialization);
  expect((err as Error).message).toMatch(message);
}

describe('Serializer round trips', () => {
  const bytes = new Uint8Array(16).map((_, i) => i * 17);
  it.each<[string, unknown]>([
    ['a string with non-BMP characters', 'héllo ✓ 😀'],
    ['a lone surrogate', 'x\ud800y'],
    ['the empty string', ''],
    ['a number', 42.5],
    ['Number.MAX_VALUE', Number.MAX_VALUE],
    ['true', true],
    ['false', false],
    ['null', null],
    ['undefined', undefined],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['-0', -0],
    ['a huge BigInt', 123456789012345678901234567890n],
    ['a negative BigInt', -5n],
    ['a Date', new Date(1_700_000_000_123)],
    ['an invalid Date', new Date(Number.NaN)],
    ['a RegExp', /a+b\/c"~/giu],
    [
      'a Map with keys of any type',
      new Map<unknown, unknown>([[1, 'n'], ['1', 's'], [{ k: 1 }, [2]], [undefined, null], [new Date(0), 1n]]),
    ],
    ['a Set', new Set<unknown>([1, '1', { a: 1 }, undefined, NaN, -0])],
    ['a Buffer', Buffer.from([0, 1, 2, 254, 255])],
    ['an ArrayBuffer', bytes.slice().buffer],
    ['a DataView', new DataView(bytes.slice().buffer)],
    ['an Int8Array', Int8Array.of(-128, 0, 127)],
    ['a Uint8Array', Uint8Array.of(0, 128, 255)],
    ['a Uint8ClampedArray', Uint8ClampedArray.of(0, 255)],
    ['an Int16Array', Int16Array.of(-32768, 32767)],
    ['a Uint16Array', Uint16Array.of(0, 65535)],
    ['an Int32Array', Int32Array.of(-(2 ** 31), 2 ** 31 - 1)],
    ['a Uint32Array', Uint32Array.of(0, 2 ** 32 - 1)],
    ['a Float32Array', Float32Array.of(1.5, NaN, -0, Infinity)],
    ['a Float64Array', Float64Array.of(Math.PI, -0, NaN, -Infinity)],
    ['a BigInt64Array', BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n)],
    ['a BigUint64Array', BigUint64Array.of(0n, 2n ** 64n - 1n)],
    ['an object with an undefined property', { a: undefined, b: 1 }],
    ['an array holding undefined, NaN and -0', [undefined, NaN, -0, 0]],
    ['keys that look like tags', { '~': 'D', v: 0, '~~': 1, '~u': 2, __type: 'Date', $type: 'Map', t: 'Int8Array' }],
    ['a tag-like Map key', new Map([['~', { '~': 'u' }]])],
    [
      'nested special values',
      {
        user: { tags: ['a', undefined, -0], meta: { at: new Date(5), roles: new Set(['x']) } },
        deep: [[1, [2n, [Buffer.of(9)]]]],
      },
    ],
  ])('%s', (_name, value) => expectExactRoundTrip(value));

  it('stores only the bytes a typed array view covers, in a fresh aligned buffer', () => {
    const view = new Int16Array(Int16Array.of(1, 2, 3, 4, 5).buffer, 2, 3);
    const decoded = roundTrip(view);
    expectSame(decoded, Int16Array.of(2, 3, 4));
    expect([decoded.byteOffset, decoded.buffer.byteLength]).toEqual([0, 6]);
  });

  it('keeps Buffer and Uint8Array apart', () => {
    expect(Buffer.isBuffer(roundTrip(Uint8Array.of(1)))).toBe(false);
    expect(Buffer.isBuffer(roundTrip(Buffer.of(1)))).toBe(true);
  });

  it('restores errors with their class, message, stack, cause and own fields', () => {
    const original = Object.assign(new TypeError('boom', { cause: new Error('inner') }), { code: 'E_X' });
    const decoded = roundTrip(original);
    expect(decoded).toBeInstanceOf(TypeError);
    expect([decoded.message, decoded.stack, decoded.code]).toEqual(['boom', original.stack, 'E_X']);
    expect((decoded.cause as Error).message).toBe('inner');
    const custom = roundTrip(Object.assign(new Error('nope'), { name: 'NotFoundError' }));
    expect([custom.name, String(custom)]).toEqual(['NotFoundError', 'NotFoundError: nope']);
  });

  it('stores class instances like JSON.stringify: toJSON() when present, else own enumerable properties', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly at: Date,
      ) {}
      get norm(): number {
        return Math.abs(this.x);
      }
    }
    class Money {
      toJSON(): unknown {
        return { cents: 1050n };
      }
    }
    const decoded = roundTrip({
      p: new Point(-3, new Date(9)),
      m: new Money(),
      w: { toJSON: () => 'plain' },
      s: new String('boxed'),
    });
    expectSame(decoded, { p: { x: -3, at: new Date(9) }, m: { cents: 1050n }, w: 'plain', s: 'boxed' } as unknown);
    expect(Object.getPrototypeOf(decoded.p)).toBe(Object.prototype);
  });

  it('skips symbol keys, copies shared references, and survives nesting deeper than the untracked walk', () => {
    const shared = { x: 1 };
    expect(roundTrip({ [Symbol('s')]: 1, a: shared, b: shared })).toEqual({ a: { x: 1 }, b: { x: 1 } });
    let deep: unknown = new Date(1);
    for (let i = 0; i < 1000; i++) deep = { next: deep };
    expectExactRoundTrip(deep);
  });

  it('round-trips anything, including dates, maps, sets, bigints and typed arrays', () => {
    const tricky = fc.constantFrom('__proto__', 'constructor', 'prototype', '~', '~~', '~u', '__type');
    const key = fc.oneof(fc.string(), tricky);
    const leaves = [
      fc.boolean(),
      fc.double(),
      fc.maxSafeInteger(),
      fc.string({ unit: 'binary' }),
      fc.constantFrom(null, undefined, -0, NaN, /x+/gi, new Date(Number.NaN)),
      fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
    ];
    const special = { withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true };
    const value = fc.anything({ key, values: leaves, ...special });
    fc.assert(fc.property(value, (v) => difference(roundTrip(v), v) === undefined), { numRuns: 300 });
  });

  it('does not modify the value it encodes', () => {
    const value = { at: new Date(1), '~k': [undefined] };
    serializer.encode(value);
    expectSame(value, { at: new Date(1), '~k': [undefined] });
  });
});

describe('Serializer format', () => {
  it('stores JSON-safe values as plain JSON after a "1J" header, others as tagged JSON after "1T"', () => {
    const plain = { a: [1, 'x', null, true], b: { c: 2.5 } };
    expect(serializer.encode(plain)).toBe(`1J${JSON.stringify(plain)}`);
    expect(serializer.encode({ at: new Date(7) })).toBe('1T{"at":{"~":"D","v":7}}');
    expect(serializer.encode({ '~x': 1 })).toBe('1T{"~~x":1}');
  });

  it('decodes a Buffer read from Redis the same as a string', () => {
    const value = { at: new Date(3), n: 1n };
    expectSame(serializer.decode(Buffer.from(serializer.encode(value))), value);
  });
});

describe('Serializer compression', () => {
  const withThreshold = (compressThresholdBytes: number, compression?: 'deflate' | 'brotli' | 'none') =>
    new Serializer({ compressThresholdBytes, compression });
  // '1J"' + body + '"': four bytes of framing around the string body.
  const ofEncodedBytes = (n: number): string => 'a'.repeat(n - 4);

  it('defaults to deflate at 1024 bytes', () => {
    expect(DEFAULT_SERIALIZER_OPTIONS).toMatchObject({ compressThresholdBytes: 1024, compression: 'deflate' });
    expect(isCompressed(serializer.encode(ofEncodedBytes(1023)))).toBe(false);
    expect(serializer.encode(ofEncodedBytes(1024)).startsWith('1D')).toBe(true);
  });

  it('compresses at the threshold and not below it, counting UTF-8 bytes', () => {
    const s = withThreshold(200);
    expect(s.encode(ofEncodedBytes(199))).toBe(`1J"${ofEncodedBytes(199)}"`);
    const atThreshold = s.encode(ofEncodedBytes(200));
    expect(isCompressed(atThreshold)).toBe(true);
    expect(s.decode(atThreshold)).toBe(ofEncodedBytes(200));
    // 66 three-byte characters plus framing: 70 UTF-16 units but 202 bytes.
    expect(isCompressed(s.encode('€'.repeat(66)))).toBe(true);
    expect(isCompressed(Buffer.from(atThreshold))).toBe(true);
  });

  it.each(['deflate', 'brotli'] as const)('%s output is shorter for repetitive data and round-trips', (compression) => {
    const s = withThreshold(64, compression);
    const value = { rows: Array.from({ length: 200 }, (_, i) => ({ id: i % 3, at: new Date(0), tag: 'repeated' })) };
    const encoded = s.encode(value);
    expect(encoded.slice(0, 2)).toBe(compression === 'deflate' ? '1D' : '1B');
    expect(encoded.length).toBeLessThan(withThreshold(64, 'none').encode(value).length / 5);
    expectSame(s.decode(encoded), value);
  });

  it("never compresses with 'none' and never returns something longer than the plain form", () => {
    expect(isCompressed(withThreshold(0, 'none').encode('a'.repeat(5000)))).toBe(false);
    const noise = Array.from({ length: 400 }, (_, i) => String.fromCharCode(33 + ((i * 7919) % 90))).join('');
    const s = withThreshold(0);
    expect(s.encode(noise).length).toBeLessThanOrEqual(withThreshold(0, 'none').encode(noise).length);
    expect(s.decode(s.encode(noise))).toBe(noise);
    expect(s.encode('ab')).toBe('1J"ab"');
  });

  it('rejects a decompressed payload over maxDecompressedBytes, naming the option', () => {
    const encoded = serializer.encode('z'.repeat(10_000));
    const strict = new Serializer({ maxDecompressedBytes: 1000 });
    expect(() => strict.decode(encoded)).toThrow(/raise SerializerOptions\.maxDecompressedBytes/);
  });

  it('rejects invalid options', () => {
    expect(() => new Serializer({ compressThresholdBytes: -1 })).toThrow(InvalidOptionsError);
    expect(() => new Serializer({ compression: 'gzip' as 'none' })).toThrow(/compression must be/);
    expect(() => new Serializer({ maxDecompressedBytes: 0.5 })).toThrow(/maxDecompressedBytes/);
  });
});

describe('Serializer prototype safety', () => {
  afterEach(() => {
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  const expectOwnProto = (decoded: unknown, proto: object = Object.prototype): Record<string, unknown> => {
    expect(Object.getPrototypeOf(decoded)).toBe(proto);
    expect(Object.hasOwn(decoded as object, '__proto__')).toBe(true);
    return Object.getOwnPropertyDescriptor(decoded, '__proto__')?.value as Record<string, unknown>;
  };

  it.each([
    ['plain JSON', '1J{"__proto__":{"polluted":true}}'],
    ['tagged JSON', '1T{"__proto__":{"polluted":true},"u":{"~":"u"}}'],
    ['a rebuilt object with escaped keys', '1T{"~~":1,"__proto__":{"polluted":true}}'],
  ])('keeps "__proto__" from %s as an own data property', (_name, text) => {
    expect(expectOwnProto(serializer.decode(text))).toEqual({ polluted: true });
  });

  it('does not let a revived "__proto__" value become the prototype', () => {
    const proto = expectOwnProto(serializer.decode('1T{"__proto__":{"~":"M","v":["polluted",true]}}'));
    expect(proto).toBeInstanceOf(Map);
  });

  it('keeps "constructor" and "prototype" as data and guards errors and Maps too', () => {
    const text = '1T{"constructor":{"prototype":{"polluted":true}},"d":{"~":"D","v":1}}';
    const decoded = serializer.decode<Record<string, unknown>>(text);
    expect(Object.hasOwn(decoded, 'constructor')).toBe(true);
    expect(decoded.constructor).toEqual({ prototype: { polluted: true } });
    const err = serializer.decode('1T{"~":"E","v":{"name":"Error","message":"m","__proto__":{"polluted":true}}}');
    expectOwnProto(err, Error.prototype);
    const map = serializer.decode<Map<unknown, unknown>>('1T{"~":"M","v":["__proto__",{"polluted":true}]}');
    expect(map.get('__proto__')).toEqual({ polluted: true });
  });

  it('round-trips an own "__proto__" key that came from JSON.parse', () => {
    const value = JSON.parse('{"__proto__":{"x":1},"d":0}') as Record<string, unknown>;
    value.d = new Date(0);
    const decoded = roundTrip(value);
    expect(expectOwnProto(decoded)).toEqual({ x: 1 });
    expect(decoded.d).toEqual(new Date(0));
  });

  it('looks typed array names up safely', () => {
    expectDeserializationError('1T{"~":"T","t":"constructor","v":""}', /malformed "T" tagged value at \$$/);
  });
});

describe('Serializer errors', () => {
  it('names the path of a function', () => {
    expectSerializationError({ user: { tags: ['a', 'b', () => 1] } }, '$.user.tags[2]', 'a function');
    expectSerializationError({ handler() {} }, '$.handler', 'a function');
    expectSerializationError({ 'my key': [{ fn: Math.max }] }, '$["my key"][0].fn', 'a function');
    expectSerializationError(() => 1, '$', 'a function');
  });

  it('names the path of a circular reference', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expectSerializationError({ a }, '$.a.self', 'a circular reference');
    const m = new Map<string, unknown>();
    m.set('me', [m]);
    expectSerializationError({ m }, '$.m.get("me")[0]', 'a circular reference');
    const root: Record<string, unknown> = {};
    let tail = root;
    for (let i = 0; i < 300; i++) tail = (tail.next = {}) as Record<string, unknown>;
    tail.back = root;
    expectSerializationError(root, `$${'.next'.repeat(300)}.back`, 'a circular reference');
  });

  it('names the path of symbols and objects without a data form', () => {
    expectSerializationError({ s: Symbol('x') }, '$.s', 'a symbol');
    expectSerializationError(new Map([[Symbol('k'), 1]]), '$.keys()[0]', 'a symbol');
    expectSerializationError(new Set([1, () => 0]), '$.values()[1]', 'a function');
    expectSerializationError({ cache: new WeakMap() }, '$.cache', 'a WeakMap');
    expectSerializationError([new WeakSet()], '$[0]', 'a WeakSet');
    expectSerializationError({ p: Promise.resolve(1) }, '$.p', 'a Promise');
    expectSerializationError({ r: new WeakRef({}) }, '$.r', 'a WeakRef');
  });

  it.each([
    ['truncated JSON', '1J{"a":', /malformed JSON/],
    ['truncated tagged JSON', '1T[1,', /malformed JSON/],
    ['an empty string', '', /unknown format header ""/],
    ['a value without a header', '{"a":1}', /unknown format header/],
    ['an unknown kind', '1X{}', /unknown format header "1X"/],
    ['an unknown format version', '2J{}', /unsupported format version 2/],
    ['an unknown tag', '1T{"a":[{"~":"zz"}]}', /malformed "zz" tagged value at \$\.a\[0\]$/],
    ['a Map with an odd entry list', '1T{"~":"M","v":[1]}', /malformed "M" tagged value at \$$/],
    ['a misplaced tag key', '1T{"a":1,"~":"u"}', /misplaced "~" key at \$\["~"\]$/],
    ['an invalid RegExp', '1T{"~":"R","v":"(","f":""}', /invalid RegExp/],
    ['a typed array of the wrong length', '1T{"~":"T","t":"Int16Array","v":"AQ=="}', /malformed "T"/],
    ['garbage in a deflate payload', '1DAAAAAAAA', /corrupted deflate payload/],
    ['a doubly compressed value', `1D${deflateSync('1Dxyz').toString('base64')}`, /does not hold a plain or tagged/],
  ])('rejects %s with a DeserializationError', (_name, text, message) => expectDeserializationError(text, message));

  it.each(['deflate', 'brotli'] as const)('rejects a truncated %s payload', (compression) => {
    const s = new Serializer({ compressThresholdBytes: 0, compression });
    const encoded = s.encode({ text: 'lorem ipsum '.repeat(200) });
    expect(isCompressed(encoded)).toBe(true);
    expect(() => s.decode(encoded.slice(0, -12))).toThrow(new RegExp(`corrupted ${compression} payload`));
  });
});
