import 'reflect-metadata';
import { ManualClock, RateLimitService, type RateLimitAlgorithm } from '@nest-coordination/core';
import { bootModule } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';

/**
 * Exact window-boundary behaviour of each algorithm on a ManualClock, for every driver: the
 * Redis scripts take the injected clock's time as an argument when a clock is configured.
 * The window is a minute because Redis still expires keys in real time (a key must outlive
 * the test); the clock makes its length irrelevant to how long the test takes.
 */
describe.each(DRIVERS)('rate-limit algorithms at window boundaries (ManualClock, $name)', (driver) => {
  const W = 60_000;
  const clock = new ManualClock();
  let service: RateLimitService;
  let close: () => Promise<void>;
  let n = 0;

  beforeAll(async () => {
    const booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('rlb'), health: { pingIntervalMs: 0 }, clock });
    service = booted.get(RateLimitService);
    close = booted.close;
  });
  afterAll(() => close());

  /** Takes `count` units one by one and returns how many were allowed. */
  async function take(key: string, algorithm: RateLimitAlgorithm, count: number, limit = 3, burst?: number): Promise<number> {
    let allowed = 0;
    for (let i = 0; i < count; i++) {
      const r = await service.consume(key, { limit, windowMs: W, algorithm, burst, tenant: `t${n}` });
      if (r.allowed) allowed++;
    }
    return allowed;
  }

  /** Whether one more unit would pass, asked of the store itself (the deny cache only answers consumes). */
  async function wouldAllow(key: string, algorithm: RateLimitAlgorithm, limit = 3): Promise<boolean> {
    return (await service.peek(key, { limit, windowMs: W, algorithm, tenant: `t${n}` })).allowed;
  }

  beforeEach(() => {
    n++;
    clock.set(1_000_000 * W + 0.9 * W); // 90 % into an aligned window
  });

  it('fixed-window lets a full quota through on each side of the boundary (2 × limit within 0.2 window)', async () => {
    expect(await take('k', 'fixed-window', 4)).toBe(3);
    clock.advance(0.1 * W - 1);
    expect(await wouldAllow('k', 'fixed-window')).toBe(false);
    clock.advance(1); // exactly the boundary
    expect(await take('k', 'fixed-window', 4)).toBe(3);
  });

  it('sliding-window never admits more than the limit in any window', async () => {
    expect(await take('k', 'sliding-window', 4)).toBe(3);
    clock.advance(0.2 * W);
    expect(await take('k', 'sliding-window', 1)).toBe(0);
    clock.advance(0.8 * W - 1);
    expect(await wouldAllow('k', 'sliding-window')).toBe(false);
    expect(await take('k', 'sliding-window', 1)).toBe(0);
    clock.advance(1); // the first admissions are exactly one window old: out of (now - W, now]
    expect(await take('k', 'sliding-window', 4)).toBe(3);
  });

  it('sliding-window-approx weights the previous window by its remaining overlap', async () => {
    clock.set(2_000_000 * W); // start of a window
    expect(await take('k', 'sliding-window-approx', 11, 10)).toBe(10);
    clock.advance(W); // next window starts: the previous one still counts in full
    expect(await take('k', 'sliding-window-approx', 1, 10)).toBe(0);
    clock.advance(W / 2); // half of it is left: estimate 5
    expect(await take('k', 'sliding-window-approx', 6, 10)).toBe(5);
  });

  it.each(['token-bucket', 'gcra'] as const)('%s refills one unit per window/limit after a burst', async (algorithm) => {
    expect(await take('k', algorithm, 11, 10)).toBe(10);
    const denied = await service.consume('k', { limit: 10, windowMs: W, algorithm, tenant: `t${n}` });
    expect(denied.retryAfterMs).toBe(W / 10);
    clock.advance(W / 10 - 1);
    expect(await wouldAllow('k', algorithm, 10)).toBe(false);
    expect(await take('k', algorithm, 1, 10)).toBe(0);
    clock.advance(1);
    expect(await take('k', algorithm, 2, 10)).toBe(1);
  });

  it.each(['token-bucket', 'gcra'] as const)('%s: burst larger than limit allows a bigger first burst', async (algorithm) => {
    expect(await take('k', algorithm, 30, 10, 20)).toBe(20);
  });
});
