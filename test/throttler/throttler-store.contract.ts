import { jest } from '@jest/globals';
import fc from 'fast-check';
import { ThrottlerStorageService } from './nestjs-throttler.js';
import type { ManualClock } from '@nest-coordination/core';
import type { ThrottlerStore } from '../../libs/coordination/src/rate-limit/throttler/throttler-store.interface.js';
import { uniquePrefix } from '../support/drivers.js';

/** One store under test and the clock it decides on. */
export interface ThrottlerStoreUnderTest {
  readonly store: ThrottlerStore;
  /** Moves time for the store: the memory store reads it; the Redis store passes it to its script. */
  readonly clock: ManualClock;
  close(): Promise<void>;
}

/** What a hit answers, without `source`. */
type Answer = [totalHits: number, timeToExpire: number, isBlocked: boolean, timeToBlockExpire: number];

/** Long enough that no Redis key expires in real time while a test relies on it (keys live at least one ttl past the ManualClock's now). */
const TTL = 60_000;

/**
 * The ThrottlerStore contract, asserted on the store interface (no storage, no tenancy, no
 * fallback), exact on a ManualClock: what @nestjs/throttler 6 documents (each hit lives `ttl`;
 * the hit past the limit is counted and blocks for `blockDuration`; without a block, hits at the
 * limit are refused), the seconds its guard turns into headers, and a property: on any sequence
 * of hits and clock moves the store answers as @nestjs/throttler's own in-memory
 * ThrottlerStorageService does. Every implementation passes it unchanged.
 *
 * @example
 * describe.each(DRIVERS)('ThrottlerStore contract ($name)', (driver) => describeThrottlerStoreContract(() => storeFor(driver)));
 */
export function describeThrottlerStoreContract(createStore: () => Promise<ThrottlerStoreUnderTest>): void {
  let s: ThrottlerStoreUnderTest;
  let n = 0;
  beforeAll(async () => {
    s = await createStore();
  });
  afterAll(() => s.close());

  const freshKey = () => `${uniquePrefix('thr')}:{k${++n}}`;
  const hit = async (key: string, limit: number, block: number, ttl = TTL): Promise<Answer> => {
    const r = await s.store.increment(key, ttl, limit, block);
    return [r.totalHits, r.timeToExpire, r.isBlocked, r.timeToBlockExpire];
  };

  it('counts hits up to the limit; the next is counted too and blocks for blockDuration, then the count starts afresh', async () => {
    const k = freshKey();
    expect([await hit(k, 2, 90_000), await hit(k, 2, 90_000), await hit(k, 2, 90_000)]).toEqual([
      [1, 60, false, 0], [2, 60, false, 0], [3, 60, true, 90],
    ]);
    s.clock.advance(30_000);
    expect(await hit(k, 2, 90_000)).toEqual([3, 30, true, 60]); // blocked: not counted
    s.clock.advance(30_000);
    // Every hit expired (pruned) and the window renewed; still blocked until 90 s.
    expect(await hit(k, 2, 90_000)).toEqual([0, 60, true, 30]);
    s.clock.advance(29_999);
    expect(await hit(k, 2, 90_000)).toEqual([0, 31, true, 1]);
    s.clock.advance(1);
    expect(await hit(k, 2, 90_000)).toEqual([1, 30, false, 0]);
    expect(await hit(k, 2, 90_000)).toEqual([2, 30, false, 0]);
  });

  it('a block shorter than ttl forgets the hits still alive when it ends', async () => {
    const k = freshKey();
    for (let i = 0; i < 2; i++) await hit(k, 2, 5_000);
    expect(await hit(k, 2, 5_000)).toEqual([3, 60, true, 5]);
    s.clock.advance(5_000);
    expect(await hit(k, 2, 5_000)).toEqual([1, 55, false, 0]);
  });

  it('without a block duration (0), refuses hits at the limit uncounted until the oldest hit expires', async () => {
    const k = freshKey();
    expect(await hit(k, 2, 0)).toEqual([1, 60, false, 0]);
    s.clock.advance(10_000);
    expect(await hit(k, 2, 0)).toEqual([2, 50, false, 0]);
    expect(await hit(k, 2, 0)).toEqual([3, 50, true, 50]); // totalHits: what it would have made
    s.clock.advance(49_999);
    expect(await hit(k, 2, 0)).toEqual([3, 1, true, 1]);
    s.clock.advance(1);
    // The first hit expired: one slot, and the window renewed.
    expect(await hit(k, 2, 0)).toEqual([2, 60, false, 0]);
    expect(await hit(k, 2, 0)).toEqual([3, 60, true, 10]); // the second hit, at +10 s, is now the oldest
  });

  it('slides: each hit leaves ttl ms after it came, whatever the window', async () => {
    const k = freshKey();
    await hit(k, 10, 0);
    s.clock.advance(20_000);
    await hit(k, 10, 0);
    s.clock.advance(20_000);
    expect(await hit(k, 10, 0)).toEqual([3, 20, false, 0]);
    s.clock.advance(20_000);
    expect(await hit(k, 10, 0)).toEqual([3, 60, false, 0]); // the first left, the window renewed
    s.clock.advance(20_000);
    expect(await hit(k, 10, 0)).toEqual([3, 40, false, 0]);
  });

  it('renews the window at the first hit after it ends, rounding the seconds left up', async () => {
    const k = freshKey();
    expect(await hit(k, 100, 0)).toEqual([1, 60, false, 0]);
    s.clock.advance(59_001);
    expect(await hit(k, 100, 0)).toEqual([2, 1, false, 0]);
    s.clock.advance(999);
    expect(await hit(k, 100, 0)).toEqual([2, 60, false, 0]);
  });

  it('a limit of 0 blocks every hit, but lets the first one after a block through, as @nestjs/throttler does', async () => {
    const k = freshKey();
    expect(await hit(k, 0, 10_000)).toEqual([1, 60, true, 10]);
    s.clock.advance(10_000);
    expect(await hit(k, 0, 10_000)).toEqual([1, 50, false, 0]);
    expect(await hit(k, 0, 10_000)).toEqual([2, 50, true, 10]);
    expect(await hit(freshKey(), 0, 0)).toEqual([1, 60, true, 60]);
  });

  it('forgets a record whose window, block and hits all ended: the next hit is checked afresh', async () => {
    const k = freshKey();
    expect(await hit(k, 0, 5_000)).toEqual([1, 60, true, 5]);
    s.clock.advance(60_000); // window, block and hit all over
    expect(await hit(k, 0, 5_000)).toEqual([1, 60, true, 5]); // a limit of 0 blocks again: not the after-block pass
  });

  it('keeps hits of a shorter ttl in expiry order: the earliest to expire frees the first slot', async () => {
    const k = freshKey();
    await hit(k, 2, 0, 60_000);
    await hit(k, 2, 0, 20_000);
    expect(await hit(k, 2, 0, 20_000)).toEqual([3, 60, true, 20]);
    s.clock.advance(20_000);
    expect(await hit(k, 2, 0, 20_000)).toEqual([2, 40, false, 0]);
  });

  it('drops a long run of expired hits at once, and rewrites the hits in order when a shorter ttl comes', async () => {
    const k = freshKey();
    for (let i = 0; i < 100; i++) await hit(k, 1_000, 0);
    s.clock.advance(10_000);
    for (let i = 0; i < 50; i++) await hit(k, 1_000, 0);
    s.clock.advance(50_000); // the first 100 leave
    expect(await hit(k, 1_000, 0)).toEqual([51, 60, false, 0]);
    expect(await hit(k, 52, 0, 5_000)).toEqual([52, 60, false, 0]); // expires first of all
    expect(await hit(k, 52, 0)).toEqual([53, 60, true, 5]);
    s.clock.advance(5_000);
    expect(await hit(k, 52, 0)).toEqual([52, 55, false, 0]);
  });

  it('reports windows and blocks of more than 18 hours (past the one-integer reply of the script)', async () => {
    const k = freshKey();
    expect(await hit(k, 1, 72_000_000, 86_400_000)).toEqual([1, 86_400, false, 0]);
    expect(await hit(k, 1, 72_000_000, 86_400_000)).toEqual([2, 86_400, true, 72_000]);
  });

  it('counts each key on its own', async () => {
    const a = freshKey();
    const b = freshKey();
    await hit(a, 1, 10_000);
    expect((await hit(a, 1, 10_000))[2]).toBe(true);
    expect(await hit(b, 1, 10_000)).toEqual([1, 60, false, 0]);
  });

  it('answers as @nestjs/throttler 6 ThrottlerStorageService on any sequence of hits and clock moves', async () => {
    const reference = new ThrottlerStorageService();
    const sweep = (reference as unknown as { evictIdleRecords(now: number): void }).evictIdleRecords;
    const now = jest.spyOn(Date, 'now').mockImplementation(() => s.clock.now());
    try {
      const step = fc.record({
        advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3_000 }), fc.integer({ min: 3_000, max: 70_000 })),
        ttl: fc.constantFrom(TTL, TTL, TTL, 20_000),
        limit: fc.constantFrom(0, 1, 2, 3),
        block: fc.constantFrom(0, 5_000, TTL, 90_000),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
          const key = freshKey();
          for (const { advanceMs, ttl, limit, block } of steps) {
            s.clock.advance(advanceMs);
            // Its sweep (a timer, every minute) forgets records whose window, block and hits all
            // ended, as ours do at once: run before each hit, it answers as after any idle minute.
            sweep.call(reference, s.clock.now());
            const expected = await reference.increment(key, ttl, limit, block, 'default');
            const actual = await s.store.increment(key, ttl, limit, block);
            // timeToBlockExpire means something only while blocked (the reference reports stale negatives otherwise).
            expect([actual.totalHits, actual.timeToExpire, actual.isBlocked, actual.isBlocked ? actual.timeToBlockExpire : 0]).toEqual([
              expected.totalHits, expected.timeToExpire, expected.isBlocked, expected.isBlocked ? expected.timeToBlockExpire : 0,
            ]);
            if (!actual.isBlocked) expect(actual.timeToBlockExpire).toBe(0);
          }
        }),
        { numRuns: 40 },
      );
    } finally {
      now.mockRestore();
      reference.onApplicationShutdown();
    }
  });
}
