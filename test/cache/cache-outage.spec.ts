import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { CacheService, RedisUnavailableError } from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootModule } from '../support/boot.js';
import { privateServerDriver } from '../support/drivers.js';
import { rejectionOf, until } from '../support/wait.js';
import { ARRIVAL_MS, cacheApp, gate, warmL1, type CacheTestApp } from './cache-test-app.js';

/** Asserts `error` is a RedisUnavailableError naming `operation`, the public name of the call. */
function expectUnavailable(error: unknown, operation: string): void {
  expect(error).toBeInstanceOf(RedisUnavailableError);
  expect((error as RedisUnavailableError).operation).toBe(operation);
}

const errorsOf = (app: CacheTestApp, operation: string) => app.booted.core.metrics.counter('cache_errors_total', { operation });

describe('CacheService while Redis is unreachable', () => {
  let server: RedisServerHandle;
  const apps: CacheTestApp[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    server.resume();
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await server.restart();
  });
  afterAll(() => server.stop());

  async function app(onRedisUnavailable: 'degrade' | 'throw'): Promise<CacheTestApp> {
    const booted = await cacheApp(privateServerDriver(server), { cache: { onRedisUnavailable } });
    apps.push(booted);
    return booted;
  }

  it('serves L1 while Redis does not answer, and a failed delete still drops the L1 entry', async () => {
    const degraded = await app('degrade');
    const { cache } = degraded;
    await cache.set('warm', 'w');
    await warmL1(cache, 'warm');
    server.pause(); // the socket stays open: the bus subscription is not known to be lost
    const l1Hits = cache.stats().l1Hits;
    expect(await cache.get('warm')).toBe('w');
    expect(cache.stats().l1Hits).toBe(l1Hits + 1);
    expect(await cache.get('cold')).toBeUndefined();
    expect(cache.stats().errors).toBe(1);
    expectUnavailable(await rejectionOf(cache.delete('warm')), 'cache.delete');
    expect(await cache.get('warm')).toBeUndefined();
    expect(cache.stats().errors).toBe(3);
  });

  it('degrades reads to misses and the loader (coalesced in process), counts and logs; writes throw', async () => {
    const degraded = await app('degrade');
    const { cache } = degraded;
    await cache.set('kept', 'in redis');
    const warn = jest.spyOn(Logger.prototype, 'warn');
    await server.kill();

    expect(await cache.getOrSet('k1', () => 'loaded')).toBe('loaded');
    const release = gate<string>();
    let calls = 0;
    const callers = Array.from({ length: 10 }, () => cache.getOrSet('k2', () => (calls++, release.promise)));
    await until(() => cache.stats().coalesced === 9, { timeoutMs: ARRIVAL_MS, message: '9 callers coalesced behind the first' });
    release.open('loaded once');
    expect(await Promise.all(callers)).toEqual(Array(10).fill('loaded once'));
    expect(calls).toBe(1);

    expect(await cache.get('kept')).toBeUndefined();
    expect(await cache.get('k1')).toBeUndefined();
    expect(await cache.has('kept')).toBe(false);
    expect(await cache.mget(['kept', 'k1'])).toEqual([undefined, undefined]);
    expect(cache.stats()).toMatchObject({ loaderCalls: 2, loaderErrors: 0 });
    expect(errorsOf(degraded, 'cache.getOrSet')).toBeGreaterThanOrEqual(2);
    expect(errorsOf(degraded, 'cache.get')).toBe(2);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('Redis is unavailable for cache.getOrSet'));

    const writes: Array<[string, Promise<unknown>]> = [
      ['cache.set', cache.set('k', 1)],
      ['cache.mset', cache.mset([{ key: 'a', value: 1 }, { key: 'b', value: 2 }])],
      ['cache.delete', cache.delete('k')],
      ['cache.invalidateTags', cache.invalidateTags(['t'])],
      ['cache.invalidatePattern', cache.invalidatePattern('k*')],
      ['cache.clear', cache.clear()],
    ];
    for (const [operation, call] of writes) expectUnavailable(await rejectionOf(call), operation);
    expect(errorsOf(degraded, 'cache.set')).toBe(1);

    await server.restart();
    await until(() => cache.set('back', 'again').then(() => true, () => false), { timeoutMs: ARRIVAL_MS, message: 'writes to succeed again' });
    expect(await cache.getOrSet('back', () => 'not called')).toBe('again');
  });

  it('boots while Redis is down (init does not wait for the bus) and answers getOrSet from the loader', async () => {
    await server.kill();
    const booted = await bootModule({ ...privateServerDriver(server).options(), health: { pingIntervalMs: 0 } });
    try {
      const cache = booted.get(CacheService);
      expect(await cache.getOrSet('k', () => 'loaded')).toBe('loaded');
      expect(cache.stats()).toMatchObject({ loaderCalls: 1, l1Hits: 0 });
    } finally {
      await booted.close();
    }
  });

  it("throws RedisUnavailableError from reads under onRedisUnavailable 'throw', without calling the loader", async () => {
    const strict = await app('throw');
    const { cache }: { cache: CacheService } = strict;
    await server.kill();
    let calls = 0;
    expectUnavailable(await rejectionOf(cache.getOrSet('k', () => (calls++, 'loaded'))), 'cache.getOrSet');
    expectUnavailable(await rejectionOf(cache.get('k')), 'cache.get');
    expectUnavailable(await rejectionOf(cache.has('k')), 'cache.has');
    expectUnavailable(await rejectionOf(cache.mget(['k'])), 'cache.mget');
    expect(calls).toBe(0);
    expect(cache.stats().errors).toBe(4);
  });
});
