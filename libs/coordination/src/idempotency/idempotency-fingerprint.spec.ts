import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { canonicalJson, fingerprintOf } from './idempotency-fingerprint.js';

describe('canonicalJson', () => {
  it('sorts object keys recursively, keeps array order, and follows JSON for the rest', () => {
    expect(canonicalJson({ b: 1, a: [new Date(0), { d: 2, c: 3 }] })).toBe('{"a":["1970-01-01T00:00:00.000Z",{"c":3,"d":2}],"b":1}');
    expect(canonicalJson({ z: undefined, f: () => 1, n: NaN, i: -Infinity, s: 'é"\n', t: true, nil: null })).toBe('{"i":null,"n":null,"nil":null,"s":"é\\"\\n","t":true}');
    expect(canonicalJson([undefined, () => 1, Symbol('x')])).toBe('[null,null,null]');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson({ toJSON: () => ({ y: 1, x: 2 }) })).toBe('{"x":2,"y":1}');
  });

  it('writes bytes as base64, and Maps, Sets and BigInts tagged, so they differ from plain values', () => {
    expect(canonicalJson(Buffer.from('hi'))).toBe('"aGk="');
    expect(canonicalJson(new Uint8Array([104, 105]))).toBe('"aGk="');
    expect(canonicalJson(new Map([['b', 1], ['a', 2]]))).toBe('{"$map":[["b",1],["a",2]]}');
    expect(canonicalJson(new Set([2, 1]))).toBe('{"$set":[2,1]}');
    expect(canonicalJson(10n)).toBe('{"$bigint":"10"}');
  });

  it('refuses a cyclic value and one nested too deep, naming the argument; a shared (not cyclic) object is fine', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic, 'options.fingerprint')).toThrow(InvalidArgumentError);
    expect(() => canonicalJson(cyclic, 'options.fingerprint')).toThrow(/options\.fingerprint.*cyclic/);
    let deep: unknown = 1;
    for (let i = 0; i < 1_100; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow(/deeper than 1000/);
    const shared = { a: 1 };
    expect(canonicalJson([shared, shared])).toBe('[{"a":1},{"a":1}]');
  });
});

describe('fingerprintOf', () => {
  it('is the sha256 of the canonical JSON: equal data in any key order gives one fingerprint', () => {
    const a = fingerprintOf({ amount: 10, currency: 'EUR', lines: [{ sku: 'x', qty: 1 }] });
    expect(a).toBe(fingerprintOf({ lines: [{ qty: 1, sku: 'x' }], currency: 'EUR', amount: 10 }));
    expect(a).toBe(createHash('sha256').update('{"amount":10,"currency":"EUR","lines":[{"qty":1,"sku":"x"}]}').digest('hex'));
    expect(a).not.toBe(fingerprintOf({ amount: 11, currency: 'EUR', lines: [{ sku: 'x', qty: 1 }] }));
    expect(fingerprintOf([1, 2])).not.toBe(fingerprintOf([2, 1]));
  });

  it("is '' without a value, and a value for null", () => {
    expect(fingerprintOf(undefined)).toBe('');
    expect(fingerprintOf(null)).toMatch(/^[0-9a-f]{64}$/);
  });
});
