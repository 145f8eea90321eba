import {
  InvalidArgumentError, InvalidKeyError, InvalidOptionsError, SerializationError, TenantInvalidError, type CacheService,
} from '@nest-coordination/core';
import { isCompressed } from '../../libs/coordination/src/serialization/serializer.js';
import { parseEntry } from '../../libs/coordination/src/cache/cache-entry.js';
import { cacheApp, gate, warmL1, type CacheTestApp } from '../cache/cache-test-app.js';
import { bootModule } from '../support/boot.js';
import type { DriverCase } from '../support/drivers.js';
import { rejectionOf } from '../support/wait.js';
import { describeCacheLoaderLeasesContract } from './cache-loader-leases.contract.js';
import { describeCacheLoaderRacesContract } from './cache-loader-races.contract.js';
import { describeCacheLoaderStateContract } from './cache-loader-state.contract.js';
import { describeCacheLoaderContract } from './cache-loader.contract.js';

/**
 * What CacheService promises on every backend, through the Nest module: memory, standalone
 * Redis and Redis Cluster run these same assertions. Time moves only on the module's ManualClock;
 * lifetimes are long in real time (Redis still expires keys by its own clock). getOrSet's
 * stampede and refresh behaviour is in cache-loader.contract.ts.
 */
export function describeCacheServiceContract(driver: DriverCase): void {
  let app: CacheTestApp;
  let cache: CacheService;
  beforeEach(async () => {
    app = await cacheApp(driver, { cache: { defaultTtlMs: 600_000 } });
    cache = app.cache;
  });
  afterEach(() => app.close());

  it('get / set / has / mget / mset / delete', async () => {
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.has('a')).toBe(false);
    await cache.set('a', { n: 1 });
    await cache.set('nothing', null);
    expect(await cache.get('a')).toEqual({ n: 1 });
    expect(await cache.get('nothing')).toBeNull();
    expect(await cache.has('a')).toBe(true);
    expect(await cache.has('nothing')).toBe(true);
    await cache.mset([{ key: 'b', value: 'B' }, { key: 'c', value: [3] }]);
    expect(await cache.mget(['c', 'missing', 'a', 'b'])).toEqual([[3], undefined, { n: 1 }, 'B']);
    expect(await cache.mget([])).toEqual([]);
    expect(await cache.delete(['a', 'b', 'missing'])).toBe(2);
    expect(await cache.delete('c')).toBe(1);
    expect(await cache.delete([])).toBe(0);
    expect(await cache.mget(['a', 'b', 'c'], { l1: false })).toEqual([undefined, undefined, undefined]);
    expect(await cache.get('a')).toBeUndefined();
  });

  it('keeps tenants apart: the same key in two tenants holds two values', async () => {
    await cache.set('plan', 'pro', { tenant: 'acme' });
    await cache.set('plan', 'free', { tenant: 'globex' });
    expect(await cache.get('plan', { tenant: 'acme' })).toBe('pro');
    expect(await cache.get('plan', { tenant: 'globex' })).toBe('free');
    expect(await cache.get('plan')).toBeUndefined();
    await cache.delete('plan', { tenant: 'acme' });
    expect(await cache.get('plan', { tenant: 'globex' })).toBe('free');
  });

  it('expires entries after the default ttl and after a per-call ttl, L1 included', async () => {
    await cache.set('default', 1);
    await cache.set('short', 2, { ttlMs: 60_000 });
    await cache.mset([{ key: 'short-m', value: 3, ttlMs: 60_000 }]);
    await warmL1(cache, 'short');
    app.clock.advance(59_999);
    expect(await cache.mget(['default', 'short', 'short-m'])).toEqual([1, 2, 3]);
    app.clock.advance(1);
    expect(await cache.mget(['default', 'short', 'short-m'])).toEqual([1, undefined, undefined]);
    expect(await cache.has('short')).toBe(false);
    app.clock.advance(600_000 - 60_000 - 1);
    expect(await cache.get('default')).toBe(1);
    app.clock.advance(1);
    expect(await cache.get('default')).toBeUndefined();
  });

  it('set and mset keep an entry staleMs past its ttlMs: lookup and getOrSet serve it stale, get / has / mget never', async () => {
    const window = { ttlMs: 60_000, staleMs: 600_000 };
    await cache.set('a', 'A', window);
    await cache.mset([{ key: 'b', value: 'B', ...window }, { key: 'c', value: 'C', ttlMs: 60_000 }]);
    const client = app.booted.core.connection?.client;
    if (client) expect(await client.pttl(app.entryKey('b'))).toBeGreaterThan(60_000); // Redis keeps it ttlMs + staleMs
    app.clock.advance(60_000);
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.has('b')).toBe(false);
    expect(await cache.mget(['a', 'b', 'c'])).toEqual([undefined, undefined, undefined]);
    expect(await cache.lookup('a')).toEqual({ state: 'stale', value: 'A' });
    expect(await cache.lookup('b')).toEqual({ state: 'stale', value: 'B' });
    expect(await cache.getOrSet('b', () => 'refreshed', { ...window, l1: false })).toBe('B');
    expect(cache.stats().staleServes).toBe(3);
  });

  it('invalidates by tag every entry carrying it, across keys and writes, in the tenant only', async () => {
    await cache.set('a', 'A', { tags: ['crew:1'] });
    await cache.set('b', 'B', { tags: ['crew:1', 'company'] });
    await cache.mset([{ key: 'c', value: 'C', tags: ['company'] }, { key: 'd', value: 'D' }]);
    expect(await cache.getOrSet('e', () => 'E', { tags: ['crew:1'] })).toBe('E');
    await cache.set('a', 'other tenant', { tags: ['crew:1'], tenant: 'globex' });
    await warmL1(cache, 'a');
    await cache.invalidateTags(['crew:1']);
    expect(await cache.mget(['a', 'b', 'c', 'd', 'e'])).toEqual([undefined, undefined, 'C', 'D', undefined]);
    expect(await cache.get('a', { tenant: 'globex' })).toBe('other tenant');
    await cache.invalidateTags(['company', 'unused']);
    expect(await cache.mget(['c', 'd'])).toEqual([undefined, 'D']);
    await cache.set('a', 'again', { tags: ['crew:1'] });
    expect(await cache.get('a')).toBe('again');
  });

  it('leaves no stale entry when a tag is invalidated while a loader runs', async () => {
    const release = gate<string>();
    const started = gate();
    const loading = cache.getOrSet('crew', async () => {
      started.open();
      return release.promise;
    }, { tags: ['crew:7'] });
    await started.promise;
    await cache.invalidateTags(['crew:7']);
    release.open('loaded before the invalidation');
    expect(await loading).toBe('loaded before the invalidation');
    expect(await cache.get('crew')).toBeUndefined();
    expect(await cache.get('crew', { l1: false })).toBeUndefined();
    expect(await cache.getOrSet('crew', () => 'fresh', { tags: ['crew:7'] })).toBe('fresh');
    expect(await cache.get('crew')).toBe('fresh');
  });

  it('invalidates by pattern within the tenant only, glob characters taken literally', async () => {
    const keys = ['user:1', 'user:2', 'order:1', 'a*b', 'a?b', 'a[x]b', 'a\\b', 'a{b}c', 'axb', 'a1b', '}*{', 'user:*'];
    for (const tenant of ['acme', 'globex']) await cache.mset(keys.map((key) => ({ key, value: `${tenant}:${key}` })), { tenant });
    await warmL1(cache, 'user:1', { tenant: 'acme' });
    const remaining = async (tenant: string) => (await cache.mget(keys, { tenant })).flatMap((value, i) => (value === undefined ? [] : [keys[i]]));

    expect(await cache.invalidatePattern('user:*', { tenant: 'acme' })).toBe(3);
    expect(await remaining('acme')).toEqual(['order:1', 'a*b', 'a?b', 'a[x]b', 'a\\b', 'a{b}c', 'axb', 'a1b', '}*{']);
    for (const literal of ['a?b', 'a[x]b', 'a\\b', 'a{b}c', '}*{']) {
      expect(await cache.invalidatePattern(literal, { tenant: 'acme' })).toBe(1);
    }
    expect(await remaining('acme')).toEqual(['order:1', 'a*b', 'axb', 'a1b']);
    expect(await cache.invalidatePattern('[ax]?b', { tenant: 'acme' })).toBe(0);
    expect(await cache.invalidatePattern('a*b', { tenant: 'acme' })).toBe(3);
    expect(await remaining('acme')).toEqual(['order:1']);
    expect(await remaining('globex')).toEqual(keys);
  });

  it('clears one tenant and no other', async () => {
    await cache.mset([{ key: 'x', value: 1 }, { key: 'y', value: 2, tags: ['t'] }], { tenant: 'acme' });
    await cache.set('x', 'kept', { tenant: 'globex' });
    await warmL1(cache, 'x', { tenant: 'acme' });
    expect(await cache.clear({ tenant: 'acme' })).toBe(2);
    expect(await cache.mget(['x', 'y'], { tenant: 'acme' })).toEqual([undefined, undefined]);
    expect(await cache.get('x', { tenant: 'globex' })).toBe('kept');
  });

  it('round-trips Dates, Maps, BigInt and Buffers, and hands every reader its own copy', async () => {
    const value = { at: new Date('2030-01-02T03:04:05.678Z'), seen: new Map<string, unknown>([['a', 1n]]), total: 10n ** 20n, bytes: Buffer.from([0, 1, 255]), none: null };
    await cache.set('rich', value);
    expect(await cache.get('rich', { l1: false })).toEqual(value);
    await warmL1(cache, 'rich');
    const first = await cache.get<typeof value>('rich');
    const second = await cache.get<typeof value>('rich');
    expect(first).toEqual(value);
    expect(first).not.toBe(second);
    first!.seen.set('mutated', true);
    expect((await cache.get<typeof value>('rich'))!.seen.has('mutated')).toBe(false);
  });

  it('stores a large repetitive value compressed: smaller in the store than raw', async () => {
    const raw = 'crew-config '.repeat(20_000);
    await cache.set('big', raw);
    const text = (await app.store.get(app.entryKey('big')))!;
    const header = parseEntry(text)!;
    expect(isCompressed(text.slice(header.bodyStart))).toBe(true);
    expect(text.length).toBeLessThan(raw.length / 10);
    const client = app.booted.core.connection?.client;
    if (client) expect(await client.strlen(app.entryKey('big'))).toBeLessThan(raw.length / 10);
    expect(await cache.get('big', { l1: false })).toBe(raw);
  });

  it('counts hits, misses, L1 / L2 hits and loader calls and time in stats()', async () => {
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 0, hitRatio: 0, loaderCalls: 0, l1Entries: 0 });
    await cache.get('absent');
    await cache.getOrSet('k', () => {
      app.clock.advance(25); // the loader takes 25 ms on the module clock
      return 'v';
    });
    await cache.get('k', { l1: false });
    await warmL1(cache, 'k');
    const before = cache.stats();
    await cache.get('k');
    await cache.get('k');
    const after = cache.stats();
    expect(after).toMatchObject({ loaderCalls: 1, loaderErrors: 0, loaderTimeMs: 25 });
    expect(before.misses).toBe(2);
    expect(before.l2Hits).toBeGreaterThanOrEqual(1);
    expect(after.l1Hits - before.l1Hits).toBe(2);
    expect(after.hits).toBe(after.l1Hits + after.l2Hits);
    expect(after.hitRatio).toBeCloseTo(after.hits / (after.hits + after.misses));
    expect(after.l1Entries).toBe(1);
    expect(after.l1Bytes).toBeGreaterThan(0);
  });

  it('rejects bad input with typed errors naming the argument, before writing anything', async () => {
    const argumentOf = async (call: Promise<unknown>) => {
      const error = await rejectionOf(call);
      if (error instanceof InvalidKeyError) return `key error: ${error.part}`;
      if (error instanceof InvalidArgumentError) return error.argument;
      throw error;
    };
    const c = cache as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    expect(await argumentOf(c.get(42))).toBe('key error: key');
    expect(await argumentOf(cache.get(''))).toBe('key error: key');
    expect(await argumentOf(cache.has('x'.repeat(513)))).toBe('key error: key');
    expect(await argumentOf(c.mget(['a', null]))).toBe('key error: keys[1]');
    expect(await argumentOf(c.mget('a'))).toBe('keys');
    expect(await argumentOf(cache.set('k', undefined))).toBe('value');
    expect(await argumentOf(cache.set('k', 1, { ttlMs: 0 }))).toBe('ttlMs');
    expect(await argumentOf(cache.set('k', 1, { ttlMs: Number.NaN }))).toBe('ttlMs');
    expect(await argumentOf(c.set('k', 1, { tags: 'crew' }))).toBe('tags');
    expect(await argumentOf(cache.set('k', 1, { tags: ['ok', ''] }))).toBe('key error: tags[1]');
    expect(await argumentOf(c.set('k', 1, { l1: 'yes' }))).toBe('l1');
    expect(await argumentOf(c.get('k', null))).toBe('options');
    expect(await argumentOf(c.getOrSet('k', 'not a function'))).toBe('loader');
    expect(await argumentOf(cache.getOrSet('k', () => 1, { staleMs: -1 }))).toBe('staleMs');
    expect(await argumentOf(cache.set('k', 1, { staleMs: -1 }))).toBe('staleMs');
    expect(await argumentOf(c.set('k', 1, { staleMs: '5s' }))).toBe('staleMs');
    expect(await argumentOf(cache.mset([{ key: 'a', value: 1, staleMs: Number.NaN }]))).toBe('entries[0].staleMs');
    expect(await argumentOf(cache.mset([{ key: 'a', value: 1 }, { key: 'b', value: undefined }]))).toBe('entries[1].value');
    expect(await argumentOf(cache.mset([{ key: 'a', value: 1, ttlMs: -5 }]))).toBe('entries[0].ttlMs');
    expect(await argumentOf(c.mset([{ key: 7, value: 1 }]))).toBe('key error: entries[0].key');
    expect(await argumentOf(c.delete(['a', 3]))).toBe('key error: keys[1]');
    expect(await argumentOf(cache.invalidatePattern(''))).toBe('key error: pattern');
    expect(await argumentOf(c.invalidateTags([1]))).toBe('key error: tags[0]');
    await expect(cache.set('k', 1, { tenant: 'not a tenant!' })).rejects.toBeInstanceOf(TenantInvalidError);
    await expect(cache.set('k', () => 1)).rejects.toBeInstanceOf(SerializationError);
    expect(await cache.mget(['k', 'a', 'b'], { l1: false })).toEqual([undefined, undefined, undefined]);
  });

  it('fails at startup on invalid cache options, naming each option path', async () => {
    const error = await rejectionOf(bootModule({
      ...driver.options(),
      cache: { defaultTtlMs: 0, onRedisUnavailable: 'maybe', l1: { maxEntries: -1, shareValues: 'no' }, bogus: 1 } as never,
    }));
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as InvalidOptionsError).problems.map((p) => p.option).sort()).toEqual(
      ['cache.bogus', 'cache.defaultTtlMs', 'cache.l1.maxEntries', 'cache.l1.shareValues', 'cache.onRedisUnavailable'],
    );
  });

  it('shares one decoded object between L1 hits only when l1.shareValues is on', async () => {
    const shared = await cacheApp(driver, { cache: { l1: { shareValues: true } } });
    try {
      await shared.cache.set('conf', { retries: 3 });
      await warmL1(shared.cache, 'conf');
      expect(await shared.cache.get('conf')).toBe(await shared.cache.get('conf'));
    } finally {
      await shared.close();
    }
    await cache.set('conf', { retries: 3 });
    await warmL1(cache, 'conf');
    expect(await cache.get('conf')).not.toBe(await cache.get('conf'));
  });

  describeCacheLoaderContract(driver);
  describeCacheLoaderRacesContract(driver);
  describeCacheLoaderLeasesContract(driver);
  describeCacheLoaderStateContract(driver);
}
