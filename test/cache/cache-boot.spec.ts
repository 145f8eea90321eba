import 'reflect-metadata';
import { CacheService } from '@nest-coordination/core';
import { bootModule } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';

/**
 * The L1 is bypassed until the cache bus subscription is confirmed (invalidations could be
 * missed before). Module init waits for that confirmation, so the L1 works from the first call
 * after boot. (Boot while Redis is down: cache-outage.spec.ts.)
 */
describe.each(DRIVERS)('CacheService at boot ($name)', (driver) => {
  it('serves the first read after boot from L1', async () => {
    const booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 } });
    try {
      const cache = booted.get(CacheService);
      await cache.set('k', 'v');
      expect(await cache.get('k')).toBe('v');
      expect(cache.stats()).toMatchObject({ l1Hits: 1, l2Hits: 0 });
    } finally {
      await booted.close();
    }
  });
});
