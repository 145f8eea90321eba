import { Serializer } from '../serialization/serializer.js';
import { freezePayload } from './freeze-payload.js';

describe('freezePayload', () => {
  const serializer = new Serializer();
  const roundTrip = <T>(value: T): T => serializer.decode<T>(serializer.encode(value));

  it('freezes objects, arrays, Maps and Sets at every depth, keys of Maps included', () => {
    const payload = freezePayload(roundTrip({
      rows: [{ n: 1, tags: ['a'] }],
      byKey: new Map([[{ id: 1 }, new Set([{ deep: true }])]]),
      ['__proto__']: { own: 1 },
    }));
    const [[key, set]] = [...payload.byKey];
    const [member] = [...set];

    expect(() => payload.rows[0].tags.push('b')).toThrow(TypeError);
    expect(() => delete (payload as { rows?: unknown }).rows).toThrow(TypeError);
    expect(() => ((key as { id: number }).id = 2)).toThrow(TypeError);
    expect(() => ((member as { deep: boolean }).deep = false)).toThrow(TypeError);
    expect(() => payload.byKey.delete(key)).toThrow(TypeError);
    expect(() => set.clear()).toThrow(TypeError);
    expect(Object.isFrozen((payload as Record<string, unknown>)['__proto__'])).toBe(true);
    // Reading stays as before: lookups, iteration, equality with an unfrozen copy.
    expect(payload.byKey.get(key)!.has(member)).toBe(true);
    expect(payload).toEqual(roundTrip(payload));
  });

  it("freezes an Error's non-enumerable cause", () => {
    const error = freezePayload(roundTrip(new Error('outer', { cause: { code: 'E1' } })));

    expect(Object.isFrozen(error)).toBe(true);
    expect(() => ((error.cause as { code: string }).code = 'E2')).toThrow(TypeError);
  });

  it('leaves what Object.freeze cannot seal usable: typed arrays, Buffers, ArrayBuffers, RegExps and primitives', () => {
    const payload = freezePayload(roundTrip({ bytes: Buffer.from('ab'), ints: new Int32Array([1, 2]), raw: new ArrayBuffer(4), re: /x/g, at: new Date(0), n: 1n }));

    expect(payload.bytes.toString()).toBe('ab');
    expect(payload.re.test('x')).toBe(true); // a global RegExp writes lastIndex
    expect(Object.isFrozen(payload)).toBe(true);
    expect(freezePayload('text')).toBe('text');
    expect(freezePayload(null)).toBeNull();
  });
});
