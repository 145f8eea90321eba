import { checkTarget, renderGroup } from './report.js';
import { respBulkBytes, respCommandBytes } from './redis.js';
import { checkGroupOptions } from './runner.js';
import { median, medianOfRuns, pairedMedian, summarize, type CaseStats, type PassResult } from './stats.js';
import type { BenchCase, BenchTarget } from './types.js';

/** A run's stats with only the figures a test sets; the rest are neutral. */
const run = (figures: Partial<CaseStats>): CaseStats => ({
  opsPerSec: 1000, p50: 1, p99: 2, bytesIn: 100, bytesOut: 10, nodeUs: 5, redisUs: 3, errors: 0, spread: 0,
  ...figures,
});

const pass = (ops: number, cost: number, seconds = 1): PassResult => ({
  ops, errors: 0, seconds, samples: [1],
  cost: { bytesIn: cost, bytesOut: cost, nodeUs: cost, redisUs: cost },
});

describe('bench arithmetic', () => {
  describe('median', () => {
    it('takes the middle value of an odd count, in any order', () => {
      expect(median([5, 1, 3])).toBe(3);
    });

    it('takes the mean of the middle two of an even count', () => {
      expect(median([4, 1, 3, 2])).toBe(2.5);
    });

    it('leaves NaN out, and is NaN when nothing is left', () => {
      expect(median([3, NaN])).toBe(3);
      expect(median([NaN, 5, 1])).toBe(3);
      expect(median([NaN])).toBeNaN();
      expect(median([])).toBeNaN();
    });

    it('keeps Infinity as a value', () => {
      expect(median([1, Infinity, Infinity])).toBe(Infinity);
    });
  });

  describe('summarize', () => {
    it('weighs each pass cost by its ops: total cost ÷ total ops', () => {
      // 1000 / 1000 = 1 and 9000 / 3000 = 3 per op; weighted: 10 000 / 4000 = 2.5 (not the mean 2).
      const stats = summarize([pass(1000, 1000), pass(3000, 9000)]);
      expect(stats.bytesIn).toBe(2.5);
      expect(stats.bytesOut).toBe(2.5);
      expect(stats.nodeUs).toBe(2.5);
      expect(stats.redisUs).toBe(2.5);
    });

    it('gives NaN costs when a pass measured nothing', () => {
      const failed: PassResult = { ops: 0, errors: 1, seconds: 0, samples: [] };
      expect(summarize([pass(1000, 1000), failed]).bytesIn).toBeNaN();
    });

    it('reports the spread of the passes around their mean', () => {
      expect(summarize([pass(900, 0), pass(1100, 0)]).spread).toBeCloseTo(0.2, 10);
    });
  });

  describe('medianOfRuns', () => {
    it('takes each figure separately as the median of the runs, sums errors', () => {
      const row = medianOfRuns([
        run({ opsPerSec: 900, p50: 3, bytesIn: 50, errors: 1 }),
        run({ opsPerSec: 1200, p50: 1, bytesIn: 70 }),
        run({ opsPerSec: 1000, p50: 2, bytesIn: 60, errors: 2 }),
      ]);
      expect(row).toMatchObject({ opsPerSec: 1000, p50: 2, bytesIn: 60, errors: 3 });
    });

    it('reports the spread of the runs ops/s around their median', () => {
      const row = medianOfRuns([run({ opsPerSec: 900 }), run({ opsPerSec: 1200 }), run({ opsPerSec: 1000 })]);
      expect(row.spread).toBeCloseTo(0.3, 10); // (1200 - 900) / 1000
    });

    it('returns a single run as is', () => {
      const only = run({ spread: 0.07 });
      expect(medianOfRuns([only])).toBe(only);
    });
  });

  describe('pairedMedian', () => {
    it('is the median of the per-run ratios, not the ratio of the medians', () => {
      // Ratio of the medians: 1100 / 1000 = 1.1×; per run: 0.77, 1.22, 1.2 → 1.2×.
      const a = [run({ opsPerSec: 1000 }), run({ opsPerSec: 1100 }), run({ opsPerSec: 1200 })];
      const b = [run({ opsPerSec: 1300 }), run({ opsPerSec: 900 }), run({ opsPerSec: 1000 })];
      expect(pairedMedian(a, b, (x, y) => x.opsPerSec / y.opsPerSec)).toBeCloseTo(1.2, 10);
    });

    it('refuses runs that cannot be paired', () => {
      expect(() => pairedMedian([run({})], [run({}), run({})], () => 1)).toThrow('cannot pair');
    });
  });

  describe('checkTarget', () => {
    const verdict = (t: BenchTarget, a: Partial<CaseStats>, b: Partial<CaseStats>) => checkTarget(t, [run(a)], [run(b)]);

    it('atLeast: exactly at the limit is MET, just below is MISSED', () => {
      const t: BenchTarget = { case: 'ours', versus: 'theirs', atLeast: 1.25 };
      expect(verdict(t, { opsPerSec: 1250 }, { opsPerSec: 1000 })).toEqual({ got: 1.25, met: true });
      expect(verdict(t, { opsPerSec: 1249 }, { opsPerSec: 1000 }).met).toBe(false);
    });

    it('atLeast on a lower-is-better metric compares baseline ÷ case', () => {
      const t: BenchTarget = { case: 'ours', versus: 'theirs', metric: 'p50', atLeast: 2 };
      expect(verdict(t, { p50: 0.5 }, { p50: 1 })).toEqual({ got: 2, met: true });
      expect(verdict(t, { p50: 0.51 }, { p50: 1 }).met).toBe(false);
    });

    it('atMost: exactly at the limit is MET, just past is MISSED', () => {
      const t: BenchTarget = { case: 'ours', versus: 'floor', metric: 'bytesIn', atMost: 2 };
      expect(verdict(t, { bytesIn: 200 }, { bytesIn: 100 })).toEqual({ got: 2, met: true });
      expect(verdict(t, { bytesIn: 201 }, { bytesIn: 100 }).met).toBe(false);
    });

    it('is MISSED when the figure is unknown', () => {
      const t: BenchTarget = { case: 'ours', versus: 'floor', metric: 'bytesIn', atMost: 2 };
      expect(verdict(t, { bytesIn: NaN }, { bytesIn: 100 }).met).toBe(false);
    });

    it('with several runs, decides on the median of the per-run ratios', () => {
      // The medians alone (1100 vs 1000) would give 1.1× and miss; the per-run ratios give 1.2×.
      const t: BenchTarget = { case: 'ours', versus: 'theirs', atLeast: 1.15 };
      const ours = [run({ opsPerSec: 1000 }), run({ opsPerSec: 1100 }), run({ opsPerSec: 1200 })];
      const theirs = [run({ opsPerSec: 1300 }), run({ opsPerSec: 900 }), run({ opsPerSec: 1000 })];
      const { got, met } = checkTarget(t, ours, theirs);
      expect(got).toBeCloseTo(1.2, 10);
      expect(met).toBe(true);
    });
  });

  describe('renderGroup', () => {
    it('prints an infinite ratio as ∞ in the table and the target line', () => {
      const cases = ['ours', 'theirs'].map((name): BenchCase => ({
        name, group: 'g', baseline: name === 'theirs', setup: () => Promise.reject(new Error('not run')),
      }));
      const runs = new Map([['ours', [run({})]], ['theirs', [run({ opsPerSec: 0 })]]]);
      const { text, missed } = renderGroup('g', cases, runs, { name: 'g', targets: [{ case: 'ours', versus: 'theirs', atLeast: 2 }] }, 50);
      expect(text).toContain('∞ theirs');
      expect(text).toContain('- target MET: ours ≥ 2× theirs on ops/s (got ∞)');
      expect(missed).toBe(0);
    });
  });

  describe('checkGroupOptions', () => {
    it('accepts positive integers and absent options', () => {
      expect(() => checkGroupOptions({ name: 'g' })).not.toThrow();
      expect(() => checkGroupOptions({ name: 'g', repeat: 3, count: 1000, concurrency: 1 })).not.toThrow();
    });

    it.each([
      ['repeat', 0], ['repeat', 1.5], ['repeat', NaN], ['count', -1], ['concurrency', 0],
    ] as const)('refuses %s = %s, naming the group', (key, value) => {
      expect(() => checkGroupOptions({ name: 'g', [key]: value })).toThrow(`group "g": ${key} must be a positive integer`);
    });
  });

  describe('RESP sizes of the INFO probe', () => {
    it('counts a command as an array of bulk strings', () => {
      expect(respCommandBytes(['INFO', 'stats', 'cpu'])).toBe('*3\r\n$4\r\nINFO\r\n$5\r\nstats\r\n$3\r\ncpu\r\n'.length);
    });

    it('counts a bulk reply with its header and final CRLF, in bytes', () => {
      expect(respBulkBytes('a:1\r\n')).toBe('$5\r\na:1\r\n\r\n'.length);
      expect(respBulkBytes('µ')).toBe(1 + 1 + 2 + 2 + 2);
    });
  });
});
