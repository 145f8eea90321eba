import fc from 'fast-check';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles from the base delay until the cap', () => {
    const upper = () => 1; // the top of the jitter range
    expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffDelay(attempt, 100, 2_000, upper))).toEqual([100, 200, 400, 800, 1_600, 2_000, 2_000]);
  });

  it('stays within [d/2, d] of the capped exponential delay d, for any attempt and jitter', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, base, max, r) => {
          const d = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
          const delay = backoffDelay(attempt, base, max, () => r);
          expect(Number.isFinite(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(d / 2);
          expect(delay).toBeLessThanOrEqual(Math.max(d, 1));
          expect(delay).toBeLessThanOrEqual(max);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('spreads retries: different random draws give different delays', () => {
    const delays = new Set([0, 0.25, 0.5, 0.75, 0.999].map((r) => backoffDelay(5, 100, 10_000, () => r)));
    expect(delays.size).toBe(5);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(800);
  });

  it('never shrinks as attempts grow (for a fixed jitter draw)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        expect(backoffDelay(attempt + 1, 50, 5_000, () => r)).toBeGreaterThanOrEqual(backoffDelay(attempt, 50, 5_000, () => r));
      }),
    );
  });
});
