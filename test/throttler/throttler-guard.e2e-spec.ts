import 'reflect-metadata';
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { ManualClock } from '@nest-coordination/core';
import type { BootedApp } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';
import { ROUTES, coordinatedApp, get, referenceApp, type Answer } from './throttler-apps.js';

// The real ThrottlerGuard, its @Throttle / @SkipThrottle metadata and named throttlers, on
// @nestjs/throttler's own in-memory storage and on ours, driven by one ManualClock (the reference
// reads Date.now(), ours the module's clock): every request must get the same status and headers.

const drivers = DRIVERS.filter((d) => d.name !== 'cluster');

describe.each(drivers)('ThrottlerGuard on CoordinationThrottlerStorage ($name) answers as on its in-memory storage', (driver) => {
  const clock = new ManualClock(1_700_000_000_000);
  let reference: BootedApp;
  let ours: BootedApp;
  const prefix = uniquePrefix('thrg');
  let dateNow: ReturnType<typeof jest.spyOn>;

  beforeAll(async () => {
    dateNow = jest.spyOn(Date, 'now').mockImplementation(() => clock.now());
    reference = await referenceApp();
    ours = await coordinatedApp({ ...driver.options(), prefix, clock });
  });
  afterAll(async () => {
    await Promise.all([reference?.close(), ours?.close()]);
    dateNow.mockRestore();
  });

  /** The same request to both apps: their answers. */
  const both = async (route: string, client: string): Promise<[Answer, Answer]> => [await get(reference, route, client), await get(ours, route, client)];

  it('sets the same statuses and X-RateLimit-* / Retry-After headers, per throttler, over a scripted sequence', async () => {
    const client = 'scripted';
    const answers: Array<[Answer, Answer]> = [];
    for (let i = 0; i < 4; i++) answers.push(await both('page', client));
    // default: 3 per 10 s, blocking 30 s; long: 5 per 60 s
    expect(answers.map(([, a]) => a)).toEqual([
      { status: 200, headers: expect.objectContaining({ 'x-ratelimit-limit': '3', 'x-ratelimit-remaining': '2', 'x-ratelimit-reset': '10', 'x-ratelimit-limit-long': '5', 'x-ratelimit-remaining-long': '4', 'x-ratelimit-reset-long': '60' }) },
      { status: 200, headers: expect.objectContaining({ 'x-ratelimit-remaining': '1', 'x-ratelimit-remaining-long': '3' }) },
      { status: 200, headers: expect.objectContaining({ 'x-ratelimit-remaining': '0', 'x-ratelimit-remaining-long': '2' }) },
      { status: 429, headers: { 'retry-after': '30' } },
    ]);
    clock.advance(12_000);
    answers.push(await both('page', client)); // still blocked for 18 s
    clock.advance(18_000);
    answers.push(await both('page', client)); // the block is over
    answers.push(await both('short-only', client), await both('free', client), await both('tight', client), await both('tight', client), await both('tight', client));
    for (const [theirs, mine] of answers) expect(mine).toEqual(theirs);
    expect(answers[4][1]).toEqual({ status: 429, headers: { 'retry-after': '18' } });
    expect(answers[5][1]).toMatchObject({ status: 200, headers: { 'x-ratelimit-remaining': '2', 'x-ratelimit-reset': '10' } });
    expect(Object.keys(answers[6][1].headers).filter((h) => h.endsWith('-long'))).toEqual([]); // @SkipThrottle({ long: true })
    expect(answers[7][1]).toEqual({ status: 200, headers: {} }); // @SkipThrottle({ default: true, long: true })
    expect(answers.slice(8).map(([, a]) => a.status)).toEqual([200, 200, 429]); // @Throttle({ default: { limit: 2 } })
  });

  it('answers the same on random sequences of routes, clients and clock moves', async () => {
    const step = fc.record({
      route: fc.constantFrom(...ROUTES),
      client: fc.constantFrom('a', 'b'),
      advanceMs: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 4_000 }), fc.integer({ min: 4_000, max: 40_000 })),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 25 }), async (steps) => {
        run++;
        for (const { route, client, advanceMs } of steps) {
          clock.advance(advanceMs);
          const [theirs, mine] = await both(route, `random-${run}-${client}`);
          expect(mine).toEqual(theirs);
        }
      }),
      { numRuns: 8, seed: 17 },
    );
  });

  if (driver.name === 'standalone') {
    it('counts under the tenant namespace in the rate limits keyspace: <prefix>:<tenant>:rl:{<key>}:thr:<throttler>', async () => {
      await get(ours, 'page', 'keys');
      const keys = await scanKeys(ours.core, `${prefix}:_shared:rl:*`);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) expect(key).toMatch(new RegExp(`^${prefix}:_shared:rl:\\{[0-9a-f]{64}\\}:thr:(default|long)$`));
    });
  }
});
