/* eslint-disable @typescript-eslint/no-explicit-any */
import { InvalidOptionsError } from '../errors/coordination.error.js';
import { DeserializationError, SerializationError } from './serialization.errors.js';
import { DEFAULT_SERIALIZER_OPTIONS, MAX_DEPTH, Serializer } from './serializer.js';

/** `levels` objects inside one another around `leaf`: the leaf sits at depth `levels`. */
function nested(levels: number, leaf: unknown = 1, wrap: (inner: unknown) => unknown = (inner) => ({ next: inner })): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = wrap(value);
  return value;
}

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('Serializer nesting depth', () => {
  const serializer = new Serializer();

  it('documents its default limit as MAX_DEPTH', () => {
    expect(DEFAULT_SERIALIZER_OPTIONS.maxDepth).toBe(MAX_DEPTH);
    expect(MAX_DEPTH).toBe(1000);
  });

  // Walked down in a loop: Jest's recursive equality overflows on a thousand nested Maps.
  it.each([
    ['objects', (inner: unknown) => ({ next: inner }), (outer: any) => outer.next],
    ['arrays', (inner: unknown) => [inner], (outer: any) => outer[0]],
    ['Maps', (inner: unknown) => new Map([['k', inner]]), (outer: any) => outer.get('k')],
    ['Sets', (inner: unknown) => new Set([inner]), (outer: any) => [...outer][0]],
  ])('round-trips %s nested exactly MAX_DEPTH deep', (_, wrap, unwrap) => {
    let decoded: unknown = serializer.decode(serializer.encode(nested(MAX_DEPTH, new Date(5), wrap)));
    const kind = Object.getPrototypeOf(wrap(1));
    for (let level = 0; level < MAX_DEPTH; level++) {
      expect(Object.getPrototypeOf(decoded)).toBe(kind);
      decoded = unwrap(decoded);
    }
    expect(decoded).toEqual(new Date(5));
  });

  it.each([
    ['one level too deep', MAX_DEPTH + 1],
    ['40 000 levels deep (a stack overflow before)', 40_000],
  ])('throws SerializationError naming the option for objects %s', (_, levels) => {
    const error = errorOf(() => serializer.encode(nested(levels, {})));
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as SerializationError).reason).toBe(`an object nested deeper than ${MAX_DEPTH} levels (SerializerOptions.maxDepth)`);
    expect((error as SerializationError).path).toBe(`$${'.next'.repeat(MAX_DEPTH + 1)}`);
  });

  it('counts Maps, Sets and Errors as one level each, like objects and arrays', () => {
    const small = new Serializer({ maxDepth: 3 });
    const ok = new Map([['a', new Set([[new Error('e')]])]]);
    expect(small.decode(small.encode(ok))).toEqual(ok);
    for (const [tooDeep, path] of [
      [new Map([['a', new Set([[{ x: {} }]])]]), '$.get("a").values()[0][0].x'],
      [new Map([['a', new Set([[new Error('e', { cause: [] })]])]]), '$.get("a").values()[0][0].cause'],
    ] as const) {
      const error = errorOf(() => small.encode(tooDeep));
      expect(error).toBeInstanceOf(SerializationError);
      expect((error as SerializationError).path).toBe(path);
    }
  });

  it('still names a cycle as a cycle, however deep the limit', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    for (const s of [new Serializer({ maxDepth: 2 }), new Serializer({ maxDepth: 100_000 })]) {
      const error = errorOf(() => s.encode({ a }));
      expect(error).toBeInstanceOf(SerializationError);
      expect((error as SerializationError).reason).toBe('a circular reference');
    }
  });

  it.each([
    ['plain', (levels: number) => `1J${'['.repeat(levels)}${']'.repeat(levels)}`],
    ['plain, with brackets inside strings', (levels: number) => `1J${'["[",'.repeat(levels)}0${']'.repeat(levels)}`],
    ['tagged', (levels: number) => `1T${'['.repeat(levels)}{"~":"u"}${']'.repeat(levels)}`],
    ['tagged Maps', (levels: number) => `1T${'{"~":"M","v":["k",'.repeat(levels)}1${']}'.repeat(levels)}`],
  ])('rejects a hostile %s message nested deeper than the limit with DeserializationError', (_, message) => {
    for (const levels of [MAX_DEPTH + 2, 40_000, 1_000_000]) {
      const error = errorOf(() => serializer.decode(message(levels)));
      expect(error).toBeInstanceOf(DeserializationError);
      expect((error as DeserializationError).reason).toMatch(/nested deeper than 1000 levels/);
    }
    expect(() => serializer.decode(message(MAX_DEPTH))).not.toThrow();
  });

  it('rejects a compressed hostile message too', () => {
    const deflating = new Serializer({ compressThresholdBytes: 0, maxDepth: 5_000 });
    const packed = deflating.encode(nested(2_000, 1, (inner) => [inner]));
    const error = errorOf(() => serializer.decode(packed));
    expect(error).toBeInstanceOf(DeserializationError);
    expect(deflating.decode(packed)).toEqual(nested(2_000, 1, (inner) => [inner]));
  });

  it('does not count brackets inside strings and escaped quotes as nesting', () => {
    const value = { s: `\\"${'['.repeat(5_000)}`, t: '{'.repeat(5_000) };
    const text = new Serializer({ compression: 'none' }).encode(value);
    expect(text.startsWith('1J')).toBe(true);
    expect(serializer.decode(text)).toEqual(value);
  });

  it('rejects a maxDepth that is not a positive integer', () => {
    for (const maxDepth of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new Serializer({ maxDepth })).toThrow(InvalidOptionsError);
    }
    expect(() => new Serializer({ maxDepth: 0 })).toThrow(/maxDepth/);
  });
});
