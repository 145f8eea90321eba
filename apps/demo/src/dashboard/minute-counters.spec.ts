import { MinuteCounters, minuteOf } from './minute-counters.js';

const T0 = Date.UTC(2026, 0, 5, 10, 40, 0);
const MIN = 60_000;

describe('MinuteCounters', () => {
  it('adds the growth of each total since the previous sample to the minute of the sample; the first sample is the starting point', () => {
    const counters = new MinuteCounters(['allowed', 'denied'] as const, 3);
    counters.sample({ allowed: 100, denied: 7 }, T0 + 5_000); // counted before: not this window's
    counters.sample({ allowed: 104, denied: 7 }, T0 + 6_000);
    counters.sample({ allowed: 110, denied: 9 }, T0 + 59_999);
    counters.sample({ allowed: 111, denied: 9 }, T0 + MIN);
    expect(counters.window(T0 + MIN + 1)).toEqual([
      { minuteMs: T0 - MIN, allowed: 0, denied: 0 },
      { minuteMs: T0, allowed: 10, denied: 2 },
      { minuteMs: T0 + MIN, allowed: 1, denied: 0 },
    ]);
  });

  it('keeps the last `minutes` minutes only, zero-filled, oldest first', () => {
    const counters = new MinuteCounters(['n'] as const, 2);
    counters.sample({ n: 0 }, T0);
    counters.sample({ n: 5 }, T0 + 1_000);
    counters.sample({ n: 6 }, T0 + 3 * MIN);
    expect(counters.window(T0 + 3 * MIN)).toEqual([{ minuteMs: T0 + 2 * MIN, n: 0 }, { minuteMs: T0 + 3 * MIN, n: 1 }]);
    // The old minute is gone from memory too, not only from the window.
    expect(counters.window(T0 + MIN).map((m) => m.n)).toEqual([0, 0]);
  });

  it('counts a total that went down (its counter was reset) from 0', () => {
    const counters = new MinuteCounters(['n'] as const, 1);
    counters.sample({ n: 50 }, T0);
    counters.sample({ n: 3 }, T0 + 1_000);
    expect(counters.window(T0)[0].n).toBe(3);
  });

  it('refuses a window that is not a positive whole number of minutes', () => {
    expect(() => new MinuteCounters(['n'] as const, 0)).toThrow(/minutes must be a positive integer, got 0/);
    expect(() => new MinuteCounters(['n'] as const, 1.5)).toThrow(/minutes/);
  });

  it('minuteOf rounds down to the start of the minute', () => {
    expect(minuteOf(T0 + 59_999)).toBe(T0);
    expect(minuteOf(T0)).toBe(T0);
  });
});
