import { RedisUnavailableError, type CacheService, type GetOrSetOptions } from '@nest-coordination/core';
import { ARRIVAL_MS, cacheApp, gate, staleReport, type CacheTestApp } from '../cache/cache-test-app.js';
import type { DriverCase } from '../support/drivers.js';
import { until } from '../support/wait.js';

const outage = (operation: string) => (): Error => new RedisUnavailableError(operation);

/** Background refreshes still running in `cache`. */
const refreshesRunning = (cache: CacheService): number =>
  (cache as unknown as { loader: { refresher: { running: Map<string, unknown> } } }).loader.refresher.running.size;

/**
 * getOrSet's lease on every backend, against failures and wide invalidations: a lease won by an
 * attempt that then fails is given back (else every later miss of the key, fleet-wide, waits
 * leaseWaitMs), and a pattern invalidation or clear leaves no entry filled while its SCAN ran.
 * Store answers are failed or emulated through the StoreProbe, never timed.
 */
export function describeCacheLoaderLeasesContract(driver: DriverCase): void {
  describe('getOrSet leases', () => {
    let app: CacheTestApp | undefined;
    afterEach(async () => {
      await app?.close();
      app = undefined;
    });

    /** The next miss of `key` loads at once: no lease left behind to wait for. */
    async function leaseFree(cache: CacheService, key: string, options?: GetOrSetOptions): Promise<void> {
      expect(await app!.store.exists(app!.leaseKey(key))).toBe(false);
      expect(await cache.getOrSet(key, () => 'next', options)).toBe('next');
      expect(cache.stats().leaseWaitTimeouts).toBe(0);
    }

    it.each([
      ['invalidatePattern', (cache: CacheService) => cache.invalidatePattern('k*')],
      ['clear', (cache: CacheService) => cache.clear()],
    ])('%s removes an entry a loader filled while its SCAN ran (the entry passed before the fill, the lease after)', async (_, wipe) => {
      app = await cacheApp(driver);
      const { cache, probe } = app;
      const started = gate();
      const release = gate<string>();
      const load = cache.getOrSet('k', () => {
        started.open();
        return release.promise;
      });
      await started.promise;
      // The SCAN visits the entry's bucket (empty), the fill lands there and drops the lease, then the SCAN visits the lease's bucket (empty).
      probe.emulateNext('deleteMatching', async () => {
        release.open('old row');
        expect(await load).toBe('old row');
        return 0;
      });
      expect(await wipe(cache)).toBe(1);
      expect(await cache.get('k')).toBeUndefined();
      expect(await app.store.get(app.entryKey('k'))).toBeNull();
    });

    it.each([
      ['the entry read', 'get'],
      ['the tag versions read', 'readCounters'],
    ] as const)('releases a lease it won when %s of the same attempt fails', async (_, method) => {
      app = await cacheApp(driver, { cache: { leaseWaitMs: 200 } });
      const { cache, probe } = app;
      const options = { tags: ['t'] };
      // An entry of an invalidated tag: a miss whose lease attempt reads the entry and its tag versions.
      await cache.set('k', 'old', options);
      await cache.invalidateTags(['t']);
      probe.emulateNext('tryLease', (args, real) => {
        // Queued now, before the attempt's get and its validation run.
        if (method === 'get') probe.failNext('get', outage('cache.getOrSet'));
        else probe.failNext('readCounters', outage('cache.getOrSet'));
        return real.tryLease(...args);
      });
      const errors = cache.stats().errors;
      expect(await cache.getOrSet('k', () => 'loaded', options)).toBe('loaded');
      expect(cache.stats().errors).toBe(errors + 1);
      await leaseFree(cache, 'k', options);
    });

    it('releases its lease when storing the loaded value fails', async () => {
      app = await cacheApp(driver, { cache: { leaseWaitMs: 200 } });
      const { cache, probe } = app;
      probe.failNext('fill', outage('cache.getOrSet'));
      expect(await cache.getOrSet('k', () => 'loaded')).toBe('loaded');
      expect(await app.store.get(app.entryKey('k'))).toBeNull();
      await leaseFree(cache, 'k');
    });

    it('releases the lease a background refresh won when its read of the entry fails', async () => {
      app = await cacheApp(driver, { cache: { xfetchBeta: 0, leaseWaitMs: 200 } });
      const { cache, probe } = app;
      const { options } = await staleReport(app);
      probe.emulateNext('tryLease', (args, real) => {
        probe.failNext('get', outage('cache.getOrSet'));
        return real.tryLease(...args);
      });
      let calls = 0;
      const refresher = () => `v${++calls + 1}`;
      expect(await cache.getOrSet('report', refresher, options)).toBe('v1');
      await until(() => refreshesRunning(cache) === 0, { timeoutMs: ARRIVAL_MS, message: 'the failed refresh to end' });
      expect(calls).toBe(0);
      expect(await app.store.exists(app.leaseKey('report'))).toBe(false);
      // The next stale read refreshes: the lease was not left to the failed attempt.
      expect(await cache.getOrSet('report', refresher, options)).toBe('v1');
      await until(() => refreshesRunning(cache) === 0, { timeoutMs: ARRIVAL_MS, message: 'the second refresh to end' });
      expect(calls).toBe(1);
      expect(await cache.get('report', { l1: false })).toBe('v2');
    });
  });
}
