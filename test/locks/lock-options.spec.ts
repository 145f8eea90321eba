import { InvalidOptionsError } from '@nest-coordination/core';
import { resolveModuleOptions } from '../../libs/coordination/src/coordination-options.js';
import { resolveLockOptions } from '../../libs/coordination/src/locks/lock.options.js';

/** The problems `locks` options are refused for (none when they resolve). */
const problemsOf = (locks: Record<string, unknown>) => {
  try {
    resolveModuleOptions({ locks });
  } catch (error) {
    if (error instanceof InvalidOptionsError) return error.problems;
    throw error;
  }
  return [];
};

describe('locks options: shutdown and key retention', () => {

  it('defaults to a 10 s shutdown grace period and a 7-day fence guard retention', () => {
    const resolved = resolveModuleOptions({}).sections as { locks: Record<string, unknown> };
    expect(resolved.locks).toMatchObject({ shutdownGraceMs: 10_000, fenceGuardRetentionMs: 604_800_000, releaseOnShutdown: true });
  });

  it('refuses a fence guard retention shorter than the largest TTL, naming both options', () => {
    expect(problemsOf({ maxTtlMs: 60_000, fenceGuardRetentionMs: 59_999 })).toEqual([
      { option: 'locks.fenceGuardRetentionMs', reason: expect.stringMatching(/at least locks\.maxTtlMs \(60000 ms\).*\(got 59999\)/) },
    ]);
    expect(problemsOf({ fenceGuardRetentionMs: 3_600_000 })).toEqual([
      { option: 'locks.fenceGuardRetentionMs', reason: expect.stringMatching(/at least locks\.maxTtlMs \(86400000 ms\)/) },
    ]);
    expect(problemsOf({ maxTtlMs: 60_000, fenceGuardRetentionMs: 60_000 })).toEqual([]);
  });

  it('refuses a negative or fractional shutdown grace period', () => {
    expect(problemsOf({ shutdownGraceMs: -1 }).map((p) => p.option)).toEqual(['locks.shutdownGraceMs']);
    expect(problemsOf({ shutdownGraceMs: 1.5 }).map((p) => p.option)).toEqual(['locks.shutdownGraceMs']);
    expect(problemsOf({ shutdownGraceMs: 0 })).toEqual([]);
  });
});

describe('locks options: events', () => {
  const eventsOf = (locks: Record<string, unknown>) => (resolveModuleOptions({ locks }).sections as { locks: { events: unknown } }).locks.events;

  it("defaults to 'exceptional', also when the section or the option is given as undefined", () => {
    expect(resolveLockOptions(undefined).events).toBe('exceptional');
    expect(resolveLockOptions({}).events).toBe('exceptional');
    expect(resolveLockOptions({ events: undefined }).events).toBe('exceptional');
    expect(eventsOf({})).toBe('exceptional');
    expect(eventsOf({ events: undefined })).toBe('exceptional');
    // null counts as absent, as for every optional option
    expect(eventsOf({ events: null })).toBe('exceptional');
  });

  it.each([
    ['all', 'all'],
    ['exceptional', 'exceptional'],
    ['none', 'none'],
    [true, 'all'],
    [false, 'none'],
  ] as const)('accepts %p, resolved to %p', (events, resolved) => {
    expect(problemsOf({ events })).toEqual([]);
    expect(resolveLockOptions({ events }).events).toBe(resolved);
    expect(eventsOf({ events })).toBe(resolved);
  });

  it.each(['some', 'ALL', 1, ''])('refuses %p naming locks.events', (events) => {
    expect(problemsOf({ events })).toEqual([
      { option: 'locks.events', reason: expect.stringMatching(/'all', 'exceptional' or 'none'/) },
    ]);
  });
});
