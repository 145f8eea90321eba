import { InvalidArgumentError } from '../errors/coordination.error.js';
import { normalizePolicy } from './rate-limit-policy.js';
import type { RateLimitPolicy } from './rate-limit.types.js';

/** normalizePolicy remembers valid policies by their fields' values: each case below must still decide by its own fields. */
describe('normalizePolicy: policies written inline (a new object per call)', () => {
  it('returns the same frozen policy for equal fields, whatever the object', () => {
    const a = normalizePolicy({ limit: 10, windowMs: 1_000, algorithm: 'fixed-window' });
    const b = normalizePolicy({ limit: 10, windowMs: 1_000, algorithm: 'fixed-window' });
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('tells apart policies whose fields differ only in one value or in being absent', () => {
    const cases: RateLimitPolicy[] = [
      { limit: 10, windowMs: 1_000 },
      { limit: 10, windowMs: 1_000, algorithm: 'sliding-window' },
      { limit: 10, windowMs: 1_000, name: 'undefined' },
      { limit: 10, windowMs: 1_000, name: '10-per-1000ms' },
      { limit: 10, windowMs: 10_000 },
      { limit: 101, windowMs: 1_000 },
      { limit: 10, windowMs: 1_000, algorithm: 'gcra' },
      { limit: 10, windowMs: 1_000, algorithm: 'gcra', burst: 10 },
      { limit: 10, windowMs: 1_000, algorithm: 'gcra', burst: 20 },
      { limit: 10, windowMs: 1_000, algorithm: 'token-bucket', burst: 20 },
    ];
    const normalized = cases.map((c) => normalizePolicy({ ...c }));
    const again = cases.map((c) => normalizePolicy({ ...c }));
    expect(again).toEqual(normalized);
    for (let i = 0; i < cases.length; i++) {
      const p = normalized[i];
      expect([p.limit, p.windowMs, p.algorithm, p.burst]).toEqual([cases[i].limit, cases[i].windowMs, cases[i].algorithm ?? 'sliding-window', cases[i].burst ?? cases[i].limit]);
      expect(p.name).toBe(cases[i].name ?? `${cases[i].limit}-per-${cases[i].windowMs}ms`);
    }
    expect(normalized[1]).toEqual(normalized[0]); // the default algorithm, spelled out or not: the same policy
    expect(normalized[2].name).toBe('undefined');
    expect(normalized[3]).not.toBe(normalized[0]); // an explicit name equal to the default is another object, same values
    expect(normalized[3]).toEqual(normalized[0]);
  });

  it('still rejects an invalid policy after a valid one with the same printed fields', () => {
    normalizePolicy({ limit: 10, windowMs: 1_000 });
    const invalid: unknown[] = [
      { limit: 10, windowMs: 1_000, algorithm: '' },
      { limit: 10, windowMs: 1_000, algorithm: 'toString' },
      { limit: '10', windowMs: 1_000 },
      { limit: 10, windowMs: '1000' },
      { limit: 10, windowMs: 1_000, name: '' },
      { limit: 10, windowMs: 1_000, burst: 10 },
      { limit: 10, windowMs: 1_000, algorithm: 'gcra', burst: '' },
      { limit: 10.5, windowMs: 1_000 },
    ];
    for (const policy of invalid) {
      for (let round = 0; round < 2; round++) expect(() => normalizePolicy(policy as RateLimitPolicy)).toThrow(InvalidArgumentError);
    }
  });

  it('validates a policy object mutated since its last call afresh', () => {
    const policy: RateLimitPolicy = { limit: 10, windowMs: 1_000 };
    expect(normalizePolicy(policy).limit).toBe(10);
    policy.limit = 0;
    expect(() => normalizePolicy(policy)).toThrow(InvalidArgumentError);
    policy.limit = 20;
    expect(normalizePolicy(policy).limit).toBe(20);
  });
});
