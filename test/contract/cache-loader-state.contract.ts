import { InvalidArgumentError, type CacheService, type CacheStats } from '@nest-coordination/core';
import { ARRIVAL_MS, cacheApp, gate, staleReport, type CacheTestApp } from '../cache/cache-test-app.js';
import type { DriverCase } from '../support/drivers.js';
import { rejectionOf, until } from '../support/wait.js';

/** What one call changed in the read counters of `cache`. */
async function counted(cache: CacheService, call: () => Promise<unknown>): Promise<Pick<CacheStats, 'hits' | 'misses' | 'staleServes'>> {
  const before = cache.stats();
  await call();
  const after = cache.stats();
  return { hits: after.hits - before.hits, misses: after.misses - before.misses, staleServes: after.staleServes - before.staleServes };
}

const never = (): never => {
  throw new Error('this loader must not be called');
};

/**
 * getOrSetState on every backend: getOrSet telling how the value was obtained (for callers that
 * report it, as CacheInterceptor does with X-Cache), each call counted once in the stats; `xfetch:
 * false` and `refresh: true`.
 */
export function describeCacheLoaderStateContract(driver: DriverCase): void {
  describe('getOrSetState', () => {
    let app: CacheTestApp | undefined;
    afterEach(async () => {
      await app?.close();
      app = undefined;
    });

    it('reports a miss, then hits (L1 and Redis), counting each call once', async () => {
      app = await cacheApp(driver, { cache: { xfetchBeta: 0 } });
      const { cache } = app;
      let state: unknown;
      expect(await counted(cache, async () => (state = await cache.getOrSetState('k', () => ({ n: 1 }))))).toEqual({ hits: 0, misses: 1, staleServes: 0 });
      expect(state).toEqual({ state: 'miss', value: { n: 1 } });
      expect(await counted(cache, async () => (state = await cache.getOrSetState('k', never)))).toEqual({ hits: 1, misses: 0, staleServes: 0 });
      expect(state).toEqual({ state: 'hit', value: { n: 1 } });
      expect(await counted(cache, async () => (state = await cache.getOrSetState('k', never, { l1: false })))).toEqual({ hits: 1, misses: 0, staleServes: 0 });
      expect(state).toEqual({ state: 'hit', value: { n: 1 } });
      expect(cache.stats().loaderCalls).toBe(1);
    });

    it('reports a stale serve once and refreshes the entry in the background with its loader', async () => {
      app = await cacheApp(driver, { cache: { xfetchBeta: 0 } });
      const { cache } = app;
      const { options, refresher, calls, release } = await staleReport(app);
      let state: unknown;
      expect(await counted(cache, async () => (state = await cache.getOrSetState('report', refresher, options)))).toEqual({ hits: 1, misses: 0, staleServes: 1 });
      expect(state).toEqual({ state: 'stale', value: 'v1' });
      await until(() => calls() === 1, { timeoutMs: ARRIVAL_MS, message: 'the background refresh to call the loader' });
      release('v2');
      await until(async () => (await cache.get('report', { l1: false })) === 'v2', { timeoutMs: ARRIVAL_MS, message: 'the refreshed value' });
      expect(await cache.getOrSetState('report', never, options)).toEqual({ state: 'hit', value: 'v2' });
    });

    it('reports a miss to a caller that waited for the load in progress', async () => {
      app = await cacheApp(driver);
      const { cache } = app;
      const release = gate<string>();
      const first = cache.getOrSetState('k', () => release.promise);
      const second = cache.getOrSetState('k', never);
      await until(() => cache.stats().coalesced === 1, { timeoutMs: ARRIVAL_MS, message: 'the second caller to join the first' });
      release.open('loaded');
      expect(await Promise.all([first, second])).toEqual([{ state: 'miss', value: 'loaded' }, { state: 'miss', value: 'loaded' }]);
      expect(cache.stats()).toMatchObject({ misses: 2, hits: 0, loaderCalls: 1 });
    });

    it('does not refresh a fresh hit early with xfetch: false, whatever xfetchBeta', async () => {
      app = await cacheApp(driver, { cache: { xfetchBeta: 1_000_000, leaseTtlMs: 3_600_000 } });
      const { cache, clock } = app;
      const options = { ttlMs: 60_000, l1: false, xfetch: false };
      // A loader that took 600 s: with this beta, any other fresh hit would refresh early.
      await cache.getOrSetState('hot', () => {
        clock.advance(600_000);
        return 'v1';
      }, options);
      for (let i = 0; i < 20; i++) expect(await cache.getOrSetState('hot', never, options)).toEqual({ state: 'hit', value: 'v1' });
      expect(cache.stats()).toMatchObject({ refreshes: 0, loaderCalls: 1 });
    });

    it('with refresh: true, loads a fresh entry again, stores it and drops the old value from L1', async () => {
      app = await cacheApp(driver);
      const { cache } = app;
      await cache.getOrSet('k', () => 'old', { ttlMs: 60_000, tags: ['t'] });
      expect(await cache.get('k')).toBe('old'); // in L1
      let state: unknown;
      expect(await counted(cache, async () => (state = await cache.getOrSetState('k', () => 'new', { refresh: true, tags: ['t'] })))).toEqual({ hits: 0, misses: 1, staleServes: 0 });
      expect(state).toEqual({ state: 'miss', value: 'new' });
      expect(await cache.get('k')).toBe('new');
      expect(await cache.get('k', { l1: false })).toBe('new');
      expect(await app.store.exists(app.leaseKey('k'))).toBe(false);
      // Stored with the call's options: its tag drops it.
      await cache.invalidateTags(['t']);
      expect(await cache.get('k', { l1: false })).toBeUndefined();
    });

    it('with refresh: true, joins the load of the key in progress and lets it store its value', async () => {
      app = await cacheApp(driver);
      const { cache } = app;
      const started = gate();
      const release = gate<string>();
      const loading = cache.getOrSet('k', () => {
        started.open();
        return release.promise;
      });
      await started.promise;
      const reloading = cache.getOrSetState('k', never, { refresh: true });
      await until(() => cache.stats().coalesced === 1, { timeoutMs: ARRIVAL_MS, message: 'the reload to join the load' });
      release.open('loaded');
      expect(await loading).toBe('loaded');
      expect(await reloading).toEqual({ state: 'miss', value: 'loaded' });
      expect(await cache.get('k', { l1: false })).toBe('loaded');
      expect(cache.stats().loaderCalls).toBe(1);
    });

    it('refuses xfetch and refresh that are not booleans, naming them', async () => {
      app = await cacheApp(driver);
      for (const option of ['xfetch', 'refresh']) {
        const error = await rejectionOf(app.cache.getOrSetState('k', never, { [option]: 'yes' } as never));
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect(error).toMatchObject({ argument: option });
      }
      expect(app.probe.calls('tryLease')).toBe(0);
    });
  });
}
