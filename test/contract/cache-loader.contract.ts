import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { ARRIVAL_MS, cacheApp, gate, staleReport, type CacheTestApp } from '../cache/cache-test-app.js';
import type { DriverCase } from '../support/drivers.js';
import { rejectionOf, until } from '../support/wait.js';

/**
 * getOrSet on every backend: coalescing, loader failures, stale-while-revalidate and XFetch.
 * Loaders are held by gates the tests open, so every overlap is certain, never timed.
 */
export function describeCacheLoaderContract(driver: DriverCase): void {
  describe('getOrSet', () => {
    let app: CacheTestApp | undefined;
    afterEach(async () => {
      await app?.close();
      app = undefined;
    });

    it('calls the loader once for 50 concurrent callers of a cold key, each getting its own copy', async () => {
      app = await cacheApp(driver);
      const { cache } = app;
      const release = gate<{ crew: number }>();
      let calls = 0;
      const loader = () => {
        calls++;
        return release.promise;
      };
      const callers = Array.from({ length: 50 }, () => cache.getOrSet('cold', loader));
      await until(() => cache.stats().coalesced === 49, { timeoutMs: ARRIVAL_MS, message: () => `49 coalesced callers (${cache.stats().coalesced})` });
      release.open({ crew: 7 });
      const values = await Promise.all(callers);
      expect(calls).toBe(1);
      expect(values).toEqual(Array(50).fill({ crew: 7 }));
      expect(new Set(values).size).toBe(50);
      expect(cache.stats()).toMatchObject({ misses: 50, loaderCalls: 1, coalesced: 49, leaseWaitTimeouts: 0 });
      expect(await cache.getOrSet('cold', loader)).toEqual({ crew: 7 });
      expect(calls).toBe(1);
    });

    it('gives the loader error to every waiting caller, stores nothing and releases the lease', async () => {
      app = await cacheApp(driver, { cache: { leaseWaitMs: 2_000 } });
      const { cache } = app;
      const boom = new Error('database down');
      const release = gate();
      let calls = 0;
      const failing = async () => {
        calls++;
        await release.promise;
        throw boom;
      };
      const first = cache.getOrSet('k', failing);
      const second = cache.getOrSet('k', failing);
      await until(() => cache.stats().coalesced === 1, { timeoutMs: ARRIVAL_MS, message: 'the second caller to join the first' });
      release.open();
      expect(await rejectionOf(first)).toBe(boom);
      expect(await rejectionOf(second)).toBe(boom);
      expect(calls).toBe(1);
      expect(await cache.get('k', { l1: false })).toBeUndefined();
      // The lease was released: the next miss loads at once instead of waiting leaseWaitMs for it.
      expect(await cache.getOrSet('k', () => 'recovered')).toBe('recovered');
      expect(cache.stats()).toMatchObject({ loaderCalls: 2, loaderErrors: 1, leaseWaitTimeouts: 0 });
    });

    it('returns undefined from a loader without storing it', async () => {
      app = await cacheApp(driver, { cache: { leaseWaitMs: 2_000 } });
      let calls = 0;
      const nothing = () => {
        calls++;
        return undefined;
      };
      expect(await app.cache.getOrSet('void', nothing)).toBeUndefined();
      expect(await app.cache.getOrSet('void', nothing)).toBeUndefined();
      expect(calls).toBe(2);
      expect(await app.cache.has('void')).toBe(false);
      expect(app.cache.stats().leaseWaitTimeouts).toBe(0);
    });

    it('serves a stale value within staleMs and refreshes it once in the background', async () => {
      app = await cacheApp(driver, { cache: { xfetchBeta: 0 } });
      const { cache, clock } = app;
      const { options, refresher, calls, release } = await staleReport(app);
      expect(await cache.getOrSet('report', refresher, options)).toBe('v1');
      expect(await cache.getOrSet('report', refresher, options)).toBe('v1');
      await until(() => calls() === 1, { timeoutMs: ARRIVAL_MS, message: 'the background refresh to call the loader' });
      expect(cache.stats()).toMatchObject({ staleServes: 2, refreshes: 1 });
      expect(await cache.get('report')).toBeUndefined(); // get never serves stale values
      release('v2');
      await until(async () => (await cache.get('report', { l1: false })) === 'v2', { timeoutMs: ARRIVAL_MS, message: 'the refreshed value' });
      expect(await cache.getOrSet('report', refresher, options)).toBe('v2');
      expect(calls()).toBe(1);
      expect(cache.stats()).toMatchObject({ staleServes: 2, refreshes: 1, loaderCalls: 2 });
      clock.advance(60_000 + 600_000); // past the stale window: a plain miss
      expect(await cache.getOrSet('report', () => 'v3', options)).toBe('v3');
      expect(cache.stats().staleServes).toBe(2);
    });

    it('counts and logs a background refresh that fails, keeps serving the stale value and tries again later', async () => {
      app = await cacheApp(driver, { cache: { xfetchBeta: 0 } });
      const { cache } = app;
      const warn = jest.spyOn(Logger.prototype, 'warn');
      const { options } = await staleReport(app);
      const failing = () => Promise.reject(new Error('report service down'));
      expect(await cache.getOrSet('report', failing, options)).toBe('v1');
      await until(() => cache.stats().loaderErrors === 1, { timeoutMs: ARRIVAL_MS, message: 'the refresh to fail' });
      await until(() => warn.mock.calls.some(([message]) => String(message).includes('report service down')), {
        timeoutMs: ARRIVAL_MS, message: 'the failed refresh to be logged',
      });
      // The failed refresh gave its lease back: the next stale read refreshes again at once.
      expect(await cache.getOrSet('report', () => 'v2', options)).toBe('v1');
      await until(async () => (await cache.get('report', { l1: false })) === 'v2', { timeoutMs: ARRIVAL_MS, message: 'the second refresh' });
      expect(cache.stats()).toMatchObject({ refreshes: 2, loaderErrors: 1, staleServes: 2 });
      warn.mockRestore();
    });

    it('refreshes a fresh hit early in the background with XFetch, serving the current value meanwhile', async () => {
      // The loader "takes" 600 s on the module clock: the lease (on that clock for the memory
      // store) must outlive it, or its value would not be stored.
      app = await cacheApp(driver, { cache: { xfetchBeta: 1_000_000, leaseTtlMs: 3_600_000 } });
      const { cache, clock } = app;
      const options = { ttlMs: 60_000, l1: false };
      // A slow loader (600 s on the module clock): with this beta, any fresh hit refreshes early
      // unless Math.random() returns more than 0.9999999.
      await cache.getOrSet('hot', () => {
        clock.advance(600_000);
        return 'v1';
      }, options);
      const release = gate<string>();
      let calls = 0;
      const refresher = () => {
        calls++;
        return release.promise;
      };
      expect(await cache.getOrSet('hot', refresher, options)).toBe('v1');
      await until(() => calls === 1, { timeoutMs: ARRIVAL_MS, message: 'the early refresh to call the loader' });
      expect(cache.stats()).toMatchObject({ refreshes: 1, staleServes: 0, misses: 1 });
      release.open('v2');
      await until(async () => (await cache.get('hot', { l1: false })) === 'v2', { timeoutMs: ARRIVAL_MS, message: 'the refreshed value' });
      expect(calls).toBe(1);
    });

    it('does not refresh early with xfetchBeta 0', async () => {
      app = await cacheApp(driver, { cache: { xfetchBeta: 0, leaseTtlMs: 3_600_000 } });
      const { cache, clock } = app;
      await cache.getOrSet('hot', () => {
        clock.advance(600_000);
        return 'v1';
      }, { ttlMs: 60_000, l1: false });
      for (let i = 0; i < 20; i++) expect(await cache.getOrSet('hot', () => 'never', { ttlMs: 60_000, l1: false })).toBe('v1');
      expect(cache.stats()).toMatchObject({ refreshes: 0, loaderCalls: 1 });
    });
  });
}
