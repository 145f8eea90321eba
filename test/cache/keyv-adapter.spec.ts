import 'reflect-metadata';
import { Controller, Get, UseInterceptors } from '@nestjs/common';
import { CACHE_MANAGER, CacheModule, CacheInterceptor as NestCacheInterceptor } from '@nestjs/cache-manager';
import type { Cache } from 'cache-manager';
import { Keyv } from 'keyv';
import request from 'supertest';
import { CacheService, CoordinationKeyvStore, type CoordinationKeyvStoreOptions, type CoordinationModuleOptions } from '@nest-coordination/core';
import { bootApp, bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS, REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';

/** @nestjs/cache-manager with this library's cache under it, as an application would register it. */
const cacheManagerModule = (options: CoordinationKeyvStoreOptions = {}) =>
  CacheModule.registerAsync({
    inject: [CacheService],
    useFactory: (cache: CacheService) => ({ stores: [new Keyv({ store: new CoordinationKeyvStore(cache, options) })] }),
  });

let itemRuns = 0;

@Controller('items')
@UseInterceptors(NestCacheInterceptor)
class ItemsController {
  @Get()
  list() {
    itemRuns += 1;
    return { items: ['a', 'b'], run: itemRuns };
  }
}

describe.each(DRIVERS)('CoordinationKeyvStore under @nestjs/cache-manager ($name)', (driver) => {
  const options = (): CoordinationModuleOptions => ({ ...driver.options(), prefix: uniquePrefix('keyv'), health: { pingIntervalMs: 0 } });
  let booted: BootedModule;
  let manager: Cache;
  let cache: CacheService;
  const inTenant = <T>(tenant: string, fn: () => Promise<T>): Promise<T> => booted.core.tenants.run(tenant, fn);

  beforeEach(async () => {
    booted = await bootModule(options(), { imports: [cacheManagerModule()] });
    manager = booted.get<Cache>(CACHE_MANAGER);
    cache = booted.get(CacheService);
  });

  afterEach(async () => {
    await booted.close();
  });

  it('get, set, del, mget, mset and wrap work through CACHE_MANAGER, stored in the CacheService', async () => {
    await inTenant('acme', async () => {
      await manager.set('crew:1', { name: 'Alpha', at: 1 }, 60_000);
      await expect(manager.get('crew:1')).resolves.toEqual({ name: 'Alpha', at: 1 });
      // The store prefixes the key with its namespace, as does Keyv (useKeyPrefix); a plain CacheService entry of the tenant.
      await expect(cache.has('keyv:keyv:crew:1')).resolves.toBe(true);
      await manager.mset<unknown>([{ key: 'crew:2', value: 'two', ttl: 60_000 }, { key: 'crew:3', value: [3] }]);
      await expect(manager.mget(['crew:1', 'crew:2', 'crew:3', 'crew:4'])).resolves.toEqual([{ name: 'Alpha', at: 1 }, 'two', [3], undefined]);
      await expect(manager.del('crew:1')).resolves.toBe(true);
      await expect(manager.get('crew:1')).resolves.toBeUndefined();
      await expect(cache.has('keyv:keyv:crew:1')).resolves.toBe(false);
      let loads = 0;
      const loader = async () => ({ loaded: ++loads });
      await expect(manager.wrap('report', loader, 60_000)).resolves.toEqual({ loaded: 1 });
      await expect(manager.wrap('report', loader, 60_000)).resolves.toEqual({ loaded: 1 });
      expect(loads).toBe(1);
      await expect(manager.clear()).resolves.toBe(true);
      await expect(manager.mget(['crew:2', 'crew:3', 'report'])).resolves.toEqual([undefined, undefined, undefined]);
    });
  });

  it('keeps tenants apart: the tenant in context, or the fixed tenant of the store', async () => {
    await inTenant('acme', () => manager.set('plan', 'pro', 60_000));
    await expect(inTenant('globex', () => manager.get('plan'))).resolves.toBeUndefined();
    await expect(inTenant('acme', () => manager.get('plan'))).resolves.toBe('pro');
    await inTenant('globex', () => manager.clear());
    await expect(inTenant('acme', () => manager.get('plan'))).resolves.toBe('pro');

    const fixed = new Keyv({ store: new CoordinationKeyvStore(cache, { tenant: 'initech' }) });
    await inTenant('acme', () => fixed.set('plan', 'basic', 60_000));
    await expect(cache.get('keyv:keyv:plan', { tenant: 'initech' })).resolves.toBeDefined();
    await expect(inTenant('globex', () => fixed.get('plan'))).resolves.toBe('basic');
    await expect(inTenant('acme', () => manager.get('plan'))).resolves.toBe('pro');
  });

  it('honours the TTL Keyv passes, in the CacheService entry too', async () => {
    await inTenant('acme', () => manager.set('short', 'lived', 50));
    await inTenant('acme', () => manager.set('long', 'lived', 60_000));
    await until(async () => (await inTenant('acme', () => cache.has('keyv:keyv:short'))) === false, {
      timeoutMs: 5_000, message: 'the 50 ms entry to expire in the cache',
    });
    await expect(inTenant('acme', () => manager.get('short'))).resolves.toBeUndefined();
    await expect(inTenant('acme', () => manager.get('long'))).resolves.toBe('lived');
  });

  it('checks its options, naming the option', () => {
    expect(() => new CoordinationKeyvStore(cache, { ttlMs: -5 })).toThrow(expect.objectContaining({ argument: 'ttlMs' }));
    expect(() => new CoordinationKeyvStore(cache, { ttl: 5 } as never)).toThrow(expect.objectContaining({ argument: 'options.ttl' }));
    expect(() => new CoordinationKeyvStore(cache, { tenant: 'a b' })).toThrow(/tenant/i);
  });

  it("@nestjs/cache-manager's own CacheInterceptor works on top, per tenant", async () => {
    const app = await bootApp(options(), { imports: [cacheManagerModule()], controllers: [ItemsController] });
    try {
      const get = (tenant: string) => request(app.app.getHttpServer()).get('/items').set('x-tenant-id', tenant).expect(200);
      const first = await get('acme');
      const second = await get('acme');
      expect(second.body).toEqual(first.body);
      expect(second.headers['x-cache']).toBe('HIT');
      const other = await get('globex');
      expect(other.body.run).toBe(first.body.run + 1);
      await expect(app.get(CacheService).has('keyv:keyv:/items', { tenant: 'acme' })).resolves.toBe(true);
    } finally {
      await app.close();
    }
  });
});

describe.each(REDIS_DRIVERS.filter((d) => d.name === 'standalone'))('CoordinationKeyvStore across instances ($name)', (driver) => {
  it('a value set through one module instance is read by another over Redis', async () => {
    const shared: CoordinationModuleOptions = { ...driver.options(), prefix: uniquePrefix('keyvx'), health: { pingIntervalMs: 0 } };
    const [one, two] = await Promise.all([
      bootModule(shared, { imports: [cacheManagerModule({ tenant: 'acme' })] }),
      bootModule(shared, { imports: [cacheManagerModule({ tenant: 'acme' })] }),
    ]);
    try {
      const [m1, m2] = [one.get<Cache>(CACHE_MANAGER), two.get<Cache>(CACHE_MANAGER)];
      await m1.set('crew:1', { name: 'Alpha' }, 60_000);
      await expect(m2.get('crew:1')).resolves.toEqual({ name: 'Alpha' });
      await m2.set('crew:1', { name: 'Beta' }, 60_000);
      // The first instance's L1 copy was dropped by the write on the second.
      await until(async () => (await m1.get<{ name: string }>('crew:1'))?.name === 'Beta', { timeoutMs: 5_000, message: 'instance one to read the new value' });
      await m2.del('crew:1');
      await until(async () => (await m1.get('crew:1')) === undefined, { timeoutMs: 5_000, message: 'instance one to see the delete' });
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});
