import 'reflect-metadata';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { ARRIVAL_MS, cacheApp, gate, type CacheTestApp } from './cache-test-app.js';

const CALLERS = 5;

/**
 * getOrSet's lease across two module instances on one Redis (two processes of a fleet, in one
 * test process): what the callers waiting on instance B do when A's lease holder ends. Every
 * overlap is made certain by gates and held store answers, never by timing.
 */
describe.each(REDIS_DRIVERS)('getOrSet lease across two instances ($name)', (driver) => {
  let a: CacheTestApp;
  let b: CacheTestApp;

  beforeEach(async () => {
    const prefix = uniquePrefix('lease');
    // A wait for the lease that ran out would also let B's callers load: make it longer than the test.
    const options = { prefix, cache: { leaseWaitMs: 60_000 } };
    [a, b] = await Promise.all([cacheApp(driver, options), cacheApp(driver, options)]);
  });
  afterEach(() => Promise.all([a.close(), b.close()]));

  /**
   * Starts A's load of `key` (its loader holding the lease until `release`), then CALLERS calls on
   * B that find the lease taken: resolves once B's load is parked on the bus, waiting for A.
   */
  async function holderOnAWaitersOnB(key: string, holderLoader: (release: Promise<void>) => Promise<unknown>, bLoader: (i: number) => () => unknown) {
    const started = gate();
    const release = gate();
    const holder = a.cache.getOrSet(key, () => {
      started.open();
      return holderLoader(release.promise);
    });
    await started.promise;
    // B's first attempt at the lease, then its second, made once it listens for A's announcement.
    const firstAttempt = b.probe.holdNext('tryLease');
    const waiters = Array.from({ length: CALLERS }, (_, i) => b.cache.getOrSet(key, bLoader(i)));
    await firstAttempt.reached;
    const secondAttempt = b.probe.holdNext('tryLease');
    firstAttempt.open();
    await secondAttempt.reached; // answered while A still held the lease: lost
    await until(() => b.cache.stats().coalesced === CALLERS - 1, { timeoutMs: ARRIVAL_MS, message: "B's callers to join B's load" });
    return { holder, waiters, release: () => release.open(), waitersListening: () => secondAttempt.open() };
  }

  it.each([
    ['returns undefined', async (release: Promise<void>) => {
      await release;
      return undefined;
    }],
    ['throws', async (release: Promise<void>) => {
      await release;
      throw new Error('not found');
    }],
  ])("when the holder's loader %s, the waiting callers on the other instance share one load of their own, each getting its own copy", async (outcome, holderLoader) => {
    let bCalls = 0;
    const bRelease = gate();
    const { holder, waiters, release, waitersListening } = await holderOnAWaitersOnB('k', holderLoader, (i) => async () => {
      bCalls++;
      await bRelease.promise;
      return { from: `b${i}` };
    });
    release();
    if (outcome === 'throws') await expect(holder).rejects.toThrow('not found');
    else expect(await holder).toBeUndefined();
    waitersListening();
    await until(() => bCalls > 0, { timeoutMs: ARRIVAL_MS, message: "B's load to start" });
    bRelease.open();
    const values = await Promise.all(waiters);
    // One database call for B's coalesced callers (not one each, on a database that is already failing).
    expect(bCalls).toBe(1);
    expect(values).toEqual(Array(CALLERS).fill({ from: 'b0' }));
    expect(new Set(values).size).toBe(CALLERS);
    expect(b.cache.stats()).toMatchObject({ loaderCalls: 1, leaseWaitTimeouts: 0 });
  });

  it('when the holder stores a value, the waiting callers on the other instance take it without loading', async () => {
    const { holder, waiters, release, waitersListening } = await holderOnAWaitersOnB('k', async (released) => {
      await released;
      return 'from A';
    }, () => () => 'from B');
    release();
    expect(await holder).toBe('from A');
    waitersListening();
    expect(await Promise.all(waiters)).toEqual(Array(CALLERS).fill('from A'));
    expect(b.cache.stats()).toMatchObject({ loaderCalls: 0, coalesced: CALLERS, leaseWaitTimeouts: 0 });
  });

  it('with refresh: true, a caller waiting for the lease takes the value loaded meanwhile, not the entry it meant to replace', async () => {
    await a.cache.set('k', 'old');
    const started = gate();
    const release = gate<string>();
    const reloadOnA = a.cache.getOrSetState('k', () => {
      started.open();
      return release.promise;
    }, { refresh: true });
    await started.promise;
    const attempt = b.probe.holdNext('tryLease');
    let bCalls = 0;
    const reloadOnB = b.cache.getOrSetState('k', () => `from B ${++bCalls}`, { refresh: true });
    await attempt.reached; // lost: A holds the lease; B read the old entry
    attempt.open();
    release.open('new');
    expect(await reloadOnA).toEqual({ state: 'miss', value: 'new' });
    expect(await reloadOnB).toEqual({ state: 'miss', value: 'new' });
    expect(bCalls).toBe(0);
  });
});
