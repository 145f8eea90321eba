import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { CacheService, GetOrSetOptions } from '@nest-coordination/core';
import { CacheBus } from '../../libs/coordination/src/cache/cache-bus.js';
import { ARRIVAL_MS, cacheApp, gate, staleReport, type CacheTestApp } from '../cache/cache-test-app.js';
import type { DriverCase } from '../support/drivers.js';
import { until } from '../support/wait.js';

/** A getOrSet whose loader runs (its lease taken, when it has one) and waits for `release`. */
interface HeldLoad {
  readonly result: Promise<unknown>;
  release(value: string): void;
}

/** Starts `getOrSet(key)` and resolves once its loader was called; the loader returns what `release` is given. */
async function heldLoad(cache: CacheService, key: string, options?: GetOrSetOptions): Promise<HeldLoad> {
  const started = gate();
  const loaded = gate<string>();
  const result = cache.getOrSet(key, () => {
    started.open();
    return loaded.promise;
  }, options);
  await started.promise;
  return { result, release: loaded.open };
}

/** Background refreshes still running in `cache` (none left means none will call a loader any more). */
const refreshesRunning = (cache: CacheService): number =>
  (cache as unknown as { loader: { refresher: { running: Map<string, unknown> } } }).loader.refresher.running.size;

/**
 * getOrSet against the writes and invalidations that race its loader, on every backend: what a
 * loader read before a write must never overwrite that write (a stale row cached for ttlMs).
 * Loaders and store answers are held by gates the tests open, so every overlap is certain.
 */
export function describeCacheLoaderRacesContract(driver: DriverCase): void {
  describe('getOrSet racing writes', () => {
    let app: CacheTestApp | undefined;
    afterEach(async () => {
      await app?.close();
      app = undefined;
    });

    const writes: Array<[string, (cache: CacheService) => Promise<unknown>, unknown]> = [
      ['delete', (cache) => cache.delete('k'), undefined],
      ['set', (cache) => cache.set('k', 'new row'), 'new row'],
      ['mset', (cache) => cache.mset([{ key: 'k', value: 'new row' }, { key: 'other', value: 1 }]), 'new row'],
      ['invalidatePattern', (cache) => cache.invalidatePattern('k*'), undefined],
      ['clear', (cache) => cache.clear(), undefined],
    ];
    it.each(writes)('keeps a %s made while the loader runs: the loaded value is returned, not stored', async (_, write, expected) => {
      app = await cacheApp(driver);
      const { cache } = app;
      const load = await heldLoad(cache, 'k');
      await write(cache);
      load.release('old row');
      expect(await load.result).toBe('old row');
      expect(await cache.get('k', { l1: false })).toBe(expected);
      expect(await cache.get('k')).toBe(expected);
      // The lease is gone: the next miss loads at once.
      expect(await app.store.exists(app.leaseKey('k'))).toBe(false);
      expect(await cache.getOrSet('k', () => 'reloaded')).toBe(expected ?? 'reloaded');
      expect(cache.stats().leaseWaitTimeouts).toBe(0);
    });

    const lateWrites: Array<[string, (cache: CacheService) => Promise<unknown>, string]> = [
      ['delete', (cache) => cache.delete('k'), 'late'],
      ['set', (cache) => cache.set('k', 'new row', { tags: ['t'] }), 'new row'],
      ['mset', (cache) => cache.mset([{ key: 'k', value: 'new row', tags: ['t'] }, { key: 'other', value: 1 }]), 'new row'],
      ['invalidateTags', (cache) => cache.invalidateTags(['t']), 'late'],
      ['invalidatePattern', (cache) => cache.invalidatePattern('k*'), 'late'],
      ['clear', (cache) => cache.clear(), 'late'],
    ];
    it.each(lateWrites)('does not hand a caller arriving after a %s the value of the load that started before it', async (_, write, expected) => {
      app = await cacheApp(driver);
      const { cache } = app;
      const options = { tags: ['t'] };
      const load = await heldLoad(cache, 'k', options);
      await write(cache);
      // Arrives after the write: the load in progress may have read the row before it.
      const late = cache.getOrSet('k', () => 'late', options);
      load.release('old row');
      expect(await load.result).toBe('old row');
      expect(await late).toBe(expected);
      expect(await cache.get('k', { l1: false })).toBe(expected);
      expect(await cache.get('k')).toBe(expected);
      expect(cache.stats().leaseWaitTimeouts).toBe(0);
    });

    it('does not hand a caller arriving after a delete the value of the load that started before it, without an L1 either', async () => {
      app = await cacheApp(driver, { cache: { l1: { enabled: false } } });
      const { cache } = app;
      const load = await heldLoad(cache, 'k');
      await cache.delete('k');
      const late = cache.getOrSet('k', () => 'late');
      load.release('old row');
      expect(await load.result).toBe('old row');
      expect(await late).toBe('late');
      expect(await cache.get('k')).toBe('late');
    });

    it('calls the loader itself once the lease wait runs out, and stores its value over the stuck holder', async () => {
      app = await cacheApp(driver, { cache: { leaseWaitMs: 100 } });
      const { cache } = app;
      const stuck = { key: app.leaseKey('k'), token: 'stuck holder on another instance' };
      expect(await app.store.tryLease(stuck.key, stuck.token, 600_000)).toBe(true);
      expect(await cache.getOrSet('k', () => 'fallback')).toBe('fallback');
      expect(cache.stats()).toMatchObject({ leaseWaitTimeouts: 1, loaderCalls: 1 });
      expect(await cache.get('k', { l1: false })).toBe('fallback');
      // The stuck holder finishes late with what it loaded before: it no longer overwrites the newer value.
      expect(await app.store.fill(app.entryKey('k'), 'late', 60_000, stuck)).toBe(false);
      expect(await cache.get('k', { l1: false })).toBe('fallback');
    });

    it('stores nothing from a loader called after the lease wait ran out when a delete raced it', async () => {
      app = await cacheApp(driver, { cache: { leaseWaitMs: 100 } });
      const { cache } = app;
      expect(await app.store.tryLease(app.leaseKey('k'), 'stuck holder on another instance', 600_000)).toBe(true);
      const load = await heldLoad(cache, 'k');
      expect(cache.stats().leaseWaitTimeouts).toBe(1);
      expect(await cache.delete('k')).toBe(0);
      load.release('old row');
      expect(await load.result).toBe('old row');
      expect(await cache.get('k', { l1: false })).toBeUndefined();
      expect(await cache.get('k')).toBeUndefined();
    });

    it('stops waiting for another instance\'s lease once the bus is closed (shutdown), without polling the store', async () => {
      app = await cacheApp(driver, { cache: { leaseWaitMs: 3_000 } });
      const { cache, probe } = app;
      expect(await app.store.tryLease(app.leaseKey('k'), 'another instance', 600_000)).toBe(true);
      const waiting = cache.getOrSet('k', () => 'loaded here');
      // The test's own tryLease, the caller's first attempt, and one from its wait loop.
      await until(() => probe.calls('tryLease') >= 3, { timeoutMs: ARRIVAL_MS, message: () => `the caller to wait for the lease (${probe.calls('tryLease')} tryLease calls)` });
      app.booted.get(CacheBus).close();
      const attempts = probe.calls('tryLease');
      expect(await waiting).toBe('loaded here');
      expect(probe.calls('tryLease') - attempts).toBe(0);
      expect(cache.stats()).toMatchObject({ loaderCalls: 1, leaseWaitTimeouts: 0 });
      // Loaded without the lease (the other instance holds it): nothing stored.
      expect(await app.store.get(app.entryKey('k'))).toBeNull();
    });

    it('returns the value of a loader that outlived its lease without storing it, and says why', async () => {
      app = await cacheApp(driver, { cache: { leaseTtlMs: 50 } });
      const { cache, clock } = app;
      const warn = jest.spyOn(Logger.prototype, 'warn');
      const value = await cache.getOrSet('slow', async () => {
        clock.advance(50); // the loader takes as long as the lease lives (the memory store's clock)...
        await until(async () => !(await app!.store.exists(app!.leaseKey('slow'))), { timeoutMs: ARRIVAL_MS, message: 'the lease to expire' }); // ...and Redis's
        return 'loaded';
      });
      expect(value).toBe('loaded');
      expect(await cache.get('slow', { l1: false })).toBeUndefined();
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('longer than its lease (cache.leaseTtlMs 50 ms): its value was not stored'));
      warn.mockRestore();
    });

    it('refreshes a stale entry once when a second stale read is answered after the first refresh finished', async () => {
      app = await cacheApp(driver, { cache: { xfetchBeta: 0 } });
      const { cache, probe } = app;
      const { options, refresher, calls, release } = await staleReport(app);
      expect(await cache.getOrSet('report', refresher, options)).toBe('v1');
      await until(() => calls() === 1, { timeoutMs: ARRIVAL_MS, message: 'the first refresh to call the loader' });
      // A second caller reads the stale entry; its answer is held until the first refresh is done.
      const held = probe.holdNext('get');
      const second = cache.getOrSet('report', refresher, options);
      await held.reached;
      release('v2');
      await until(async () => (await cache.get('report', { l1: false })) === 'v2' && refreshesRunning(cache) === 0, {
        timeoutMs: ARRIVAL_MS, message: 'the first refresh to store v2 and finish',
      });
      held.open();
      expect(await second).toBe('v1');
      await until(() => refreshesRunning(cache) === 0, { timeoutMs: ARRIVAL_MS, message: 'the second refresh attempt to finish' });
      expect(calls()).toBe(1);
      expect(cache.stats()).toMatchObject({ refreshes: 1, staleServes: 2 });
      expect(await app.store.exists(app.leaseKey('report'))).toBe(false);
      expect(await cache.getOrSet('report', refresher, options)).toBe('v2');
    });
  });
}
