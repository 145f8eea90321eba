import 'reflect-metadata';
import { RedisUnavailableError } from '@nest-coordination/core';
import { DRIVERS } from '../support/drivers.js';
import { rejectionOf } from '../support/wait.js';
import { cacheApp, type CacheTestApp } from './cache-test-app.js';

/** What the store throws when Redis drops between two round trips of one read. */
const connectionLost = () => new RedisUnavailableError('cache.readCounters', new Error('Connection is closed.'));

/**
 * Redis failing between the two round trips of one read (a tagged entry: GET, then its tag
 * counters), injected by failing one store call: the read degrades (or throws) like any outage.
 */
describe.each(DRIVERS.filter((d) => d.name !== 'cluster'))('CacheService when a store call fails mid-read ($name)', (driver) => {
  let app: CacheTestApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  const errorsOf = (operation: string) => app!.booted.core.metrics.counter('cache_errors_total', { operation });

  it("degrades get to a counted miss when a tagged entry's counters cannot be read", async () => {
    app = await cacheApp(driver);
    const { cache, probe } = app;
    await cache.set('t', 'v', { tags: ['crew'] });
    const before = cache.stats();
    probe.failNext('readCounters', connectionLost);
    expect(await cache.get('t', { l1: false })).toBeUndefined();
    expect(cache.stats()).toMatchObject({ errors: before.errors + 1, misses: before.misses + 1, hits: before.hits });
    expect(errorsOf('cache.get')).toBe(1);
    expect(await cache.get('t', { l1: false })).toBe('v');
  });

  it("throws RedisUnavailableError naming cache.get under onRedisUnavailable 'throw'", async () => {
    app = await cacheApp(driver, { cache: { onRedisUnavailable: 'throw' } });
    const { cache, probe } = app;
    await cache.set('t', 'v', { tags: ['crew'] });
    probe.failNext('readCounters', connectionLost);
    const error = await rejectionOf(cache.get('t', { l1: false }));
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as RedisUnavailableError).operation).toBe('cache.get');
    expect(cache.stats().errors).toBe(1);
  });
});
