import 'reflect-metadata';
import { isDeepStrictEqual } from 'node:util';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { ARRIVAL_MS, cacheApp, warmL1, type CacheTestApp } from './cache-test-app.js';

/**
 * Two module instances on one Redis (two processes of a fleet, in one test process): whatever
 * instance A writes or invalidates, instance B stops serving from its L1. B's L1 entries would
 * otherwise live for `l1.ttlMs` (a minute) on a clock that never moves here, so only the bus can
 * make B see the change within the wait.
 */
describe.each(REDIS_DRIVERS)('CacheService L1 coherence across two instances ($name)', (driver) => {
  let a: CacheTestApp;
  let b: CacheTestApp;
  const tenant = 'acme';

  beforeEach(async () => {
    const prefix = uniquePrefix('coh');
    [a, b] = await Promise.all([cacheApp(driver, { prefix }), cacheApp(driver, { prefix })]);
  });
  afterEach(() => Promise.all([a.close(), b.close()]));

  /** Waits until B serves `expected` for `key` (in the tenant), i.e. its L1 no longer holds the old value. */
  const bSees = (key: string, expected: unknown) =>
    until(async () => isDeepStrictEqual(await b.cache.get(key, { tenant }), expected), {
      timeoutMs: ARRIVAL_MS, message: `instance B to serve ${JSON.stringify(expected)} for "${key}"`,
    });

  it('drops the entry from B after A sets it again (set and mset)', async () => {
    await a.cache.set('k', 1, { tenant });
    await warmL1(b.cache, 'k', { tenant });
    await a.cache.set('k', 2, { tenant });
    await bSees('k', 2);
    await warmL1(b.cache, 'k', { tenant });
    await a.cache.mset([{ key: 'k', value: 3 }], { tenant });
    await bSees('k', 3);
  });

  it('drops the entry from B after A deletes it', async () => {
    await a.cache.set('k', 'v', { tenant });
    await warmL1(b.cache, 'k', { tenant });
    expect(await a.cache.delete('k', { tenant })).toBe(1);
    await bSees('k', undefined);
  });

  it('drops tagged entries from B after A invalidates the tag, and no other', async () => {
    await a.cache.mset([{ key: 't1', value: 1, tags: ['crew:1'] }, { key: 't2', value: 2, tags: ['crew:2'] }], { tenant });
    await warmL1(b.cache, 't1', { tenant });
    await warmL1(b.cache, 't2', { tenant });
    await a.cache.invalidateTags(['crew:1'], { tenant });
    await bSees('t1', undefined);
    const l1Hits = b.cache.stats().l1Hits;
    expect(await b.cache.get('t2', { tenant })).toBe(2);
    expect(b.cache.stats().l1Hits).toBe(l1Hits + 1);
  });

  it('drops matching entries from B after A invalidates a pattern, and no other', async () => {
    await a.cache.mset([{ key: 'user:1', value: 'u' }, { key: 'order:1', value: 'o' }], { tenant });
    await warmL1(b.cache, 'user:1', { tenant });
    await warmL1(b.cache, 'order:1', { tenant });
    expect(await a.cache.invalidatePattern('user:*', { tenant })).toBe(1);
    await bSees('user:1', undefined);
    const l1Hits = b.cache.stats().l1Hits;
    expect(await b.cache.get('order:1', { tenant })).toBe('o');
    expect(b.cache.stats().l1Hits).toBe(l1Hits + 1);
  });

  it("drops the tenant's entries from B after A clears the tenant, and no other tenant's", async () => {
    await a.cache.set('x', 1, { tenant });
    await a.cache.set('x', 'other', { tenant: 'globex' });
    await warmL1(b.cache, 'x', { tenant });
    await warmL1(b.cache, 'x', { tenant: 'globex' });
    expect(await a.cache.clear({ tenant })).toBe(1);
    await bSees('x', undefined);
    const l1Hits = b.cache.stats().l1Hits;
    expect(await b.cache.get('x', { tenant: 'globex' })).toBe('other');
    expect(b.cache.stats().l1Hits).toBe(l1Hits + 1);
  });
});
