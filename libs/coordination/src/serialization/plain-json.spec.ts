import { Serializer } from './serializer.js';
import { clonePlainJson, isPlainJson, parsePlainJson } from './plain-json.js';

describe('plain JSON values', () => {
  const serializer = new Serializer();

  it('tells plain JSON text from tagged or compressed text', () => {
    expect(isPlainJson(serializer.encode({ a: [1, 'x', null, true] }))).toBe(true);
    expect(isPlainJson(serializer.encode({ at: new Date(0) }))).toBe(false);
    expect(isPlainJson(serializer.encode(10n))).toBe(false);
    expect(isPlainJson(serializer.encode('x'.repeat(5000)))).toBe(false);
  });

  it('parses what the serializer decodes, and clones it deeply: no object of the copy is shared', () => {
    const text = serializer.encode({ id: 'c1', agents: [{ role: 'planner', limits: { tokens: 4096 } }], tags: ['a'], n: -0.5 });
    const value = parsePlainJson(text) as { agents: Array<{ limits: { tokens: number } }>; tags: string[] };
    expect(value).toEqual(serializer.decode(text));
    const copy = clonePlainJson(value);
    expect(copy).toEqual(value);
    copy.agents[0].limits.tokens = 1;
    copy.tags.push('b');
    expect(value.agents[0].limits.tokens).toBe(4096);
    expect(value.tags).toEqual(['a']);
  });

  it('keeps an own "__proto__" key an own data property instead of setting the prototype', () => {
    const value = JSON.parse('{"__proto__":{"polluted":true},"a":1}') as Record<string, unknown>;
    const copy = clonePlainJson(value);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__', 'a']);
    expect((copy as { polluted?: boolean }).polluted).toBeUndefined();
    expect(copy['__proto__']).toEqual({ polluted: true });
  });

  it('returns primitives and null as they are', () => {
    for (const value of ['s', 1, true, null]) expect(clonePlainJson(value)).toBe(value);
  });
});
