import type { ManualClock } from '@nest-coordination/core';
import type { RateLimitViolation } from '../../../libs/coordination/src/rate-limit/rate-limit.types.js';
import type { ViolationLogLimits, ViolationStore } from '../../../libs/coordination/src/rate-limit/violation-store.interface.js';
import { until } from '../../support/wait.js';

/** One violation store under test and the clock its alert windows follow. */
export interface ViolationStoreUnderTest {
  readonly store: ViolationStore;
  readonly clock: ManualClock;
  /**
   * Ms until the tenant's log expires, read from the store's own state (Redis: PTTL of the log
   * key, -1 without an expiry, -2 without a log; memory: computed from the clock and the log's
   * last append). Lets the suite see a restarted retention without waiting for real time.
   */
  logTtlMs(tenant: string): Promise<number>;
  /**
   * Makes the tenant's log `ms` older without an append: memory advances the clock; Redis
   * shortens the key's expiry by `ms` (it counts down in real time, which a ManualClock cannot move).
   */
  ageLog(tenant: string, ms: number): Promise<void>;
  close(): Promise<void>;
}

/** Log limits the suite runs with: a small cap, and a retention a real-time expiry (Redis) reaches in a test. */
const LIMITS: ViolationLogLimits = { maxPerTenant: 5, retentionMs: 2_000 };
const W = 60_000;
const RULE = { threshold: 3, windowMs: W };
/** Bound on waiting for a log to expire: Redis expires it in real time, `retentionMs` after its last append. */
const EXPIRY_TIMEOUT_MS = 10_000;

/**
 * The ViolationStore contract, asserted on the store interface itself: a capped log per
 * tenant (newest first), per-key alert counting that reports each threshold crossing once per
 * aligned alert window, and retention. `createStore(limits)` gives a store with those limits
 * whose alert windows follow the returned ManualClock. That an append restarts the retention is
 * read through the store's TTL (`logTtlMs`, `ageLog`). The expiry itself is exact on the memory
 * store (ManualClock); Redis expires the log in real time, which a ManualClock cannot move, so
 * there the suite awaits the expiry (bounded), and the log is still there right after its append
 * because little real time has passed.
 *
 * @example
 * describe.each(DRIVERS)('ViolationStore contract ($name)', (driver) => describeViolationStoreContract((limits) => storeFor(driver, limits)));
 */
export function describeViolationStoreContract(createStore: (limits: ViolationLogLimits) => Promise<ViolationStoreUnderTest>): void {
  let s: ViolationStoreUnderTest;
  let n = 0;
  beforeAll(async () => {
    s = await createStore(LIMITS);
  });
  afterAll(() => s.close());

  /** A tenant no other test uses. */
  const tenant = () => `vt${++n}`;
  const violation = (t: string, key: string, i = 0): RateLimitViolation => ({
    at: s.clock.now() + i, tenant: t, key, scope: 'user', policy: 'p', algorithm: 'sliding-window', limit: 1, windowMs: W, cost: 1,
    retryAfterMs: 100, source: 'redis', instanceId: 'i1',
  });
  /** Starts an aligned alert window, so that a test's appends all fall into one. */
  const alignAlertWindow = () => s.clock.advance(W - (s.clock.now() % W));

  it('keeps each tenant log newest first, whole, and apart from other tenants', async () => {
    const [a, b] = [tenant(), tenant()];
    const first = [violation(a, 'k1', 0), violation(a, 'k2', 1)];
    await s.store.append(a, first, RULE);
    const third = violation(a, 'k1', 2);
    await s.store.append(a, [third], RULE);
    expect(await s.store.list(a, 10)).toEqual([third, first[1], first[0]]);
    expect(await s.store.list(a, 2)).toEqual([third, first[1]]);
    expect(await s.store.list(b, 10)).toEqual([]);
  });

  it('caps a log at maxPerTenant, dropping the oldest', async () => {
    const t = tenant();
    const all = Array.from({ length: 7 }, (_, i) => violation(t, `k${i}`, i));
    await s.store.append(t, all.slice(0, 4), RULE);
    await s.store.append(t, all.slice(4), RULE);
    expect(await s.store.list(t, 100)).toEqual(all.slice(2).reverse());
  });

  it('reports a key crossing the alert threshold once per alert window, in the call that crossed it', async () => {
    const t = tenant();
    alignAlertWindow();
    expect(await s.store.append(t, [violation(t, 'a'), violation(t, 'a')], RULE)).toEqual([]);
    expect(await s.store.append(t, [violation(t, 'b'), violation(t, 'a'), violation(t, 'a')], RULE)).toEqual([{ key: 'a', violations: 3 }]);
    expect(await s.store.append(t, [violation(t, 'a')], RULE)).toEqual([]);
    // one batch crossing for two keys at once; another tenant counts apart
    expect(await s.store.append(t, [violation(t, 'b'), violation(t, 'c'), violation(t, 'b'), violation(t, 'c'), violation(t, 'c')], RULE))
      .toEqual([{ key: 'b', violations: 3 }, { key: 'c', violations: 3 }]);
    const other = tenant();
    expect(await s.store.append(other, [violation(other, 'a'), violation(other, 'a')], RULE)).toEqual([]);
    // the next aligned window counts from zero
    s.clock.advance(W - 1);
    expect(await s.store.append(t, [violation(t, 'd'), violation(t, 'd')], RULE)).toEqual([]);
    s.clock.advance(1);
    expect(await s.store.append(t, [violation(t, 'd'), violation(t, 'a'), violation(t, 'a')], RULE)).toEqual([]);
    expect(await s.store.append(t, [violation(t, 'a')], RULE)).toEqual([{ key: 'a', violations: 3 }]);
  });

  it('sets the retention on the first append and restarts it on every append', async () => {
    const t = tenant();
    expect(await s.logTtlMs(t)).toBe(-2);
    await s.store.append(t, [violation(t, 'k', 0)], RULE);
    const first = await s.logTtlMs(t);
    expect(first).toBeGreaterThan(LIMITS.retentionMs / 2);
    expect(first).toBeLessThanOrEqual(LIMITS.retentionMs);
    const aged = LIMITS.retentionMs * 0.75;
    await s.ageLog(t, aged);
    expect(await s.logTtlMs(t)).toBeLessThanOrEqual(LIMITS.retentionMs - aged);
    await s.store.append(t, [violation(t, 'k', 1)], RULE);
    // back to the whole retention (Redis: less the little real time since the append)
    expect(await s.logTtlMs(t)).toBeGreaterThan(LIMITS.retentionMs / 2);
    expect(await s.store.list(t, 10)).toHaveLength(2);
  });

  it('drops a tenant log retentionMs after its last append', async () => {
    const t = tenant();
    await s.store.append(t, [violation(t, 'k', 0)], RULE);
    s.clock.advance(LIMITS.retentionMs - 1);
    expect(await s.store.list(t, 10)).toHaveLength(1);
    s.clock.advance(1);
    await until(async () => (await s.store.list(t, 10)).length === 0, {
      timeoutMs: EXPIRY_TIMEOUT_MS, message: `the log of ${t} to expire ${LIMITS.retentionMs} ms after its last append`,
    });
    expect(await s.logTtlMs(t)).toBe(-2);
  });
}
