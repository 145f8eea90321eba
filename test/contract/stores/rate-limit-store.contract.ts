import type { ManualClock } from '@nest-coordination/core';
import { normalizePolicy, type NormalizedPolicy } from '../../../libs/coordination/src/rate-limit/rate-limit-policy.js';
import type { RateLimitStore, StoreCheckResult } from '../../../libs/coordination/src/rate-limit/rate-limit-store.interface.js';
import type { RateLimitAlgorithm, RateLimitPolicy } from '../../../libs/coordination/src/rate-limit/rate-limit.types.js';
import { uniquePrefix } from '../../support/drivers.js';
import { retryAfterFullBurst } from '../rate-limit-expectations.js';

/** One store under test and the clock it decides on. */
export interface RateLimitStoreUnderTest {
  readonly store: RateLimitStore;
  /** Moves time for the store: the memory store reads it; the Redis store passes it to its scripts. */
  readonly clock: ManualClock;
  close(): Promise<void>;
}

const ALGORITHMS: RateLimitAlgorithm[] = ['sliding-window', 'sliding-window-approx', 'fixed-window', 'token-bucket', 'gcra'];
/** A minute: Redis expires counters in real time, and none may expire while a test relies on it. */
const W = 60_000;
/** Where a test starts within an aligned window: off the boundary, so that the retry times still depend on it. */
const ALIGNED_OFFSET = 1_234;

/**
 * The RateLimitStore contract, asserted on the store interface itself (no service, no deny
 * cache, no fallback): what each algorithm admits and denies at exact boundaries on a
 * ManualClock, all-or-nothing multi-policy checks, peek, reset. Every implementation must
 * pass it unchanged; `createStore()` gives a store on a fresh clock.
 *
 * @example
 * describe.each(DRIVERS)('RateLimitStore contract ($name)', (driver) => describeRateLimitStoreContract(() => storeFor(driver)));
 */
export function describeRateLimitStoreContract(createStore: () => Promise<RateLimitStoreUnderTest>): void {
  let s: RateLimitStoreUnderTest;
  let n = 0;
  beforeAll(async () => {
    s = await createStore();
  });
  afterAll(() => s.close());

  /** `count` counter keys of one check: fresh, sharing one hash tag (one cluster slot). */
  const keys = (count = 1): string[] => {
    const tag = `${uniquePrefix('rls')}:{c${++n}}`;
    return Array.from({ length: count }, (_, i) => `${tag}:${i}`);
  };
  const check = (k: string[], policies: NormalizedPolicy[], cost = 1, consume = true): Promise<StoreCheckResult> =>
    s.store.check(k, policies, cost, consume);
  const one = (k: string[], policy: RateLimitPolicy, cost = 1, consume = true) => check(k, [normalizePolicy(policy)], cost, consume);
  /** ms since the start of the aligned window (fixed-window, sliding-window-approx). */
  const offset = () => s.clock.now() % W;
  /**
   * Moves the clock to ALIGNED_OFFSET past the start of an aligned window, whatever earlier tests
   * left: a fixed-window key expires in real time at the end of its window as the ManualClock
   * sees it, so a test starting near a boundary would depend on the tests before it.
   */
  const alignWindow = () => s.clock.advance(W - offset() + ALIGNED_OFFSET);

  describe.each(ALGORITHMS)('%s', (algorithm) => {
    const policy = { limit: 3, windowMs: W, algorithm };
    beforeEach(alignWindow);

    it('admits exactly the limit, then denies with the exact retry time, on the given clock', async () => {
      const k = keys();
      const admitted = [await one(k, policy), await one(k, policy), await one(k, policy)];
      expect(admitted.map((r) => [r.allowed, r.results[0].allowed, r.results[0].remaining, r.results[0].retryMs])).toEqual([
        [true, true, 2, 0], [true, true, 1, 0], [true, true, 0, 0],
      ]);
      const denied = await one(k, policy);
      expect(denied.nowUs).toBe(s.clock.now() * 1_000);
      expect(denied.allowed).toBe(false);
      expect(denied.results).toHaveLength(1);
      expect(denied.results[0]).toMatchObject({ allowed: false, remaining: 0 });
      const retryMs = retryAfterFullBurst(algorithm, W, offset());
      expect(denied.results[0].retryMs).toBe(retryMs);
      s.clock.advance(retryMs - 1);
      expect((await one(k, policy, 1, false)).allowed).toBe(false);
      s.clock.advance(1);
      expect((await one(k, policy)).allowed).toBe(true);
    });

    it('is whole again exactly resetMs after the last admission', async () => {
      const k = keys();
      let last!: StoreCheckResult;
      for (let i = 0; i < 3; i++) last = await one(k, policy);
      s.clock.advance(last.results[0].resetMs - 1);
      expect((await one(k, policy, 1, false)).results[0].remaining).toBeLessThan(2);
      s.clock.advance(1);
      expect((await one(k, policy, 1, false)).results[0]).toMatchObject({ allowed: true, remaining: 2 });
    });

    it('takes `cost` units, and nothing when the cost does not fit', async () => {
      const k = keys();
      const five = { limit: 5, windowMs: W, algorithm };
      expect((await one(k, five, 3)).results[0]).toMatchObject({ allowed: true, remaining: 2 });
      expect((await one(k, five, 3)).results[0]).toMatchObject({ allowed: false, remaining: 2 });
      expect((await one(k, five, 2)).results[0]).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('peek answers as a consume would, without consuming; reset forgets the counter', async () => {
      const k = keys();
      for (let i = 0; i < 3; i++) expect((await one(k, policy, 1, false)).results[0]).toMatchObject({ allowed: true, remaining: 2 });
      await one(k, policy);
      expect((await one(k, policy, 1, false)).results[0]).toMatchObject({ allowed: true, remaining: 1 });
      await one(k, policy);
      await one(k, policy);
      expect(await one(k, policy, 1, false)).toMatchObject({ allowed: false, results: [{ allowed: false, remaining: 0 }] });
      await s.store.reset(k);
      expect((await one(k, policy)).results[0]).toMatchObject({ allowed: true, remaining: 2 });
    });
  });

  it('sliding-window: a full window stays full until its oldest admission is exactly one window old', async () => {
    const k = keys();
    const policy = { limit: 3, windowMs: W, algorithm: 'sliding-window' as const };
    for (let i = 0; i < 3; i++) await one(k, policy);
    s.clock.advance(W / 2);
    expect((await one(k, policy)).results[0]).toMatchObject({ allowed: false, retryMs: W / 2 });
    s.clock.advance(W / 2 - 1);
    expect((await one(k, policy, 1, false)).allowed).toBe(false);
    s.clock.advance(1); // out of (now - W, now]
    for (let i = 0; i < 3; i++) expect((await one(k, policy)).allowed).toBe(true);
    expect((await one(k, policy)).allowed).toBe(false);
  });

  it('sliding-window: takes a large cost in one call', async () => {
    const k = keys();
    const policy = { limit: 10_000, windowMs: W, algorithm: 'sliding-window' as const };
    expect((await one(k, policy, 5_000)).results[0]).toMatchObject({ allowed: true, remaining: 5_000 });
    expect((await one(k, policy, 5_000)).results[0]).toMatchObject({ allowed: true, remaining: 0 });
    expect((await one(k, policy, 1, false)).results[0]).toMatchObject({ allowed: false, remaining: 0, retryMs: W });
  });

  it('fixed-window: the whole quota comes back exactly at the aligned boundary', async () => {
    const k = keys();
    const policy = { limit: 3, windowMs: W, algorithm: 'fixed-window' as const };
    alignWindow();
    for (let i = 0; i < 3; i++) await one(k, policy);
    const toBoundary = W - offset();
    expect((await one(k, policy)).results[0]).toMatchObject({ allowed: false, retryMs: toBoundary, resetMs: toBoundary });
    s.clock.advance(toBoundary - 1);
    expect((await one(k, policy, 1, false)).allowed).toBe(false);
    s.clock.advance(1);
    for (let i = 0; i < 3; i++) expect((await one(k, policy)).allowed).toBe(true);
    expect((await one(k, policy)).allowed).toBe(false);
  });

  it('sliding-window-approx: weights the previous window by its remaining overlap', async () => {
    const k = keys();
    const policy = { limit: 10, windowMs: W, algorithm: 'sliding-window-approx' as const };
    s.clock.advance(W - offset()); // start of an aligned window
    for (let i = 0; i < 10; i++) await one(k, policy);
    s.clock.advance(W); // the previous window still counts in full
    expect((await one(k, policy)).allowed).toBe(false);
    s.clock.advance(W / 2); // half of it is left: estimate 5
    const admitted = [];
    for (let i = 0; i < 6; i++) admitted.push((await one(k, policy)).allowed);
    expect(admitted).toEqual([true, true, true, true, true, false]);
  });

  it.each(['token-bucket', 'gcra'] as const)('%s: burst sets the capacity; one unit comes back every window / limit', async (algorithm) => {
    const k = keys();
    const policy = { limit: 10, windowMs: W, algorithm, burst: 20 };
    const admitted = [];
    for (let i = 0; i < 21; i++) admitted.push((await one(k, policy)).allowed);
    expect(admitted.filter(Boolean)).toHaveLength(20);
    s.clock.advance(W / 10 - 1);
    expect((await one(k, policy, 1, false)).allowed).toBe(false);
    s.clock.advance(1);
    expect((await one(k, policy)).allowed).toBe(true);
    expect((await one(k, policy)).allowed).toBe(false);
  });

  it.each(['token-bucket', 'gcra'] as const)('%s: rounds microsecond times up to whole ms', async (algorithm) => {
    const k = keys();
    // One unit every 60_000 / 7 = 8_571.43 ms: every time below is a fraction of a ms, rounded up.
    const policy = { limit: 7, windowMs: W, algorithm };
    const resets = [];
    for (let i = 0; i < 6; i++) resets.push((await one(k, policy)).results[0].resetMs);
    expect(resets).toEqual([8_572, 17_143, 25_715, 34_286, 42_858, 51_429]);
    expect((await one(k, policy)).results[0]).toMatchObject({ allowed: true, remaining: 0 });
    expect((await one(k, policy)).results[0]).toMatchObject({ allowed: false, retryMs: 8_572 });
  });

  describe.each([
    ['one algorithm', 'sliding-window'],
    ['mixed algorithms', 'gcra'],
  ] as const)('multi-policy (%s)', (_label, second) => {
    it('answers per policy in order, and a denial by one consumes from none', async () => {
      const [userKey, companyKey] = keys(2);
      const user = normalizePolicy({ name: 'user', limit: 5, windowMs: W });
      const company = normalizePolicy({ name: 'company', limit: 1, windowMs: W, algorithm: second });
      const first = await check([userKey, companyKey], [user, company]);
      expect(first.allowed).toBe(true);
      expect(first.results.map((r) => [r.allowed, r.remaining])).toEqual([[true, 4], [true, 0]]);
      const second_ = await check([userKey, companyKey], [user, company]);
      expect(second_.allowed).toBe(false);
      // the user policy allows and reports what would be left after this cost; nothing was taken from it
      expect(second_.results.map((r) => [r.allowed, r.remaining])).toEqual([[true, 3], [false, 0]]);
      expect((await check([userKey], [user], 1, false)).results[0]).toMatchObject({ allowed: true, remaining: 3 });
      expect((await check([userKey], [user])).results[0]).toMatchObject({ allowed: true, remaining: 3 });
    });

    it('peeks at every policy without consuming, and resets several counters at once', async () => {
      const [a, b] = keys(2);
      const pa = normalizePolicy({ name: 'a', limit: 2, windowMs: W });
      const pb = normalizePolicy({ name: 'b', limit: 2, windowMs: W, algorithm: second });
      for (let i = 0; i < 2; i++) expect((await check([a, b], [pa, pb], 1, false)).results.map((r) => r.remaining)).toEqual([1, 1]);
      await check([a, b], [pa, pb], 2);
      expect((await check([a, b], [pa, pb], 1, false)).allowed).toBe(false);
      await s.store.reset([a, b]);
      expect((await check([a, b], [pa, pb], 2)).allowed).toBe(true);
    });
  });
}
