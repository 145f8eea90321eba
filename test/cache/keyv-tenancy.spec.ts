import 'reflect-metadata';
import { Controller, Get, Injectable, Req, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { CacheModule, CACHE_MANAGER, CacheInterceptor as NestCacheInterceptor } from '@nestjs/cache-manager';
import type { Cache } from 'cache-manager';
import { Keyv } from 'keyv';
import request from 'supertest';
import {
  CacheService, CoordinationCore, CoordinationKeyvStore, TenantRequiredError, type CoordinationKeyvStoreOptions,
} from '@nest-coordination/core';
import { bootApp, bootModule, type BootedApp } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { rejectionOf } from '../support/wait.js';

/**
 * @nestjs/cache-manager's interceptor registered globally, with the tenant taken from the
 * authenticated user: its read runs before the library's TenantInterceptor (no tenant in
 * context yet), its write inside the handler (the user's tenant). A store that falls back to the
 * shared namespace would serve an anonymous response to every tenant; one given
 * `tenant: () => core.tenants.current()` refuses instead.
 */

/** Stands in for an auth guard: `x-auth-tenant` authenticates the request as a user of that tenant. */
@Injectable()
class FakeAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; user?: unknown }>();
    const tenant = req.headers['x-auth-tenant'];
    if (tenant) req.user = { tenantId: tenant };
    return true;
  }
}

let runs = 0;

@Controller('profile')
class ProfileController {
  @Get()
  profile(@Req() req: { user?: { tenantId: string } }) {
    return { tenant: req.user?.tenantId ?? 'anonymous', run: ++runs };
  }
}

/** The store of the application under test: refuses to run outside a tenant context. */
const contextStore = (cache: CacheService, core: CoordinationCore, options: CoordinationKeyvStoreOptions = {}) =>
  new CoordinationKeyvStore(cache, { tenant: () => core.tenants.current(), ...options });

describe.each(DRIVERS)('CoordinationKeyvStore under a global @nestjs/cache-manager interceptor ($name)', (driver) => {
  let booted: BootedApp;
  const get = (auth?: string) => {
    const call = request(booted.app.getHttpServer()).get('/profile');
    return (auth ? call.set('x-auth-tenant', auth) : call).expect(200);
  };

  beforeEach(async () => {
    runs = 0;
    booted = await bootApp(
      { ...driver.options(), prefix: uniquePrefix('keyvt'), health: { pingIntervalMs: 0 }, tenancy: { userProperty: 'tenantId' } },
      {
        imports: [
          CacheModule.registerAsync({
            inject: [CacheService, CoordinationCore],
            useFactory: (cache: CacheService, core: CoordinationCore) => ({ stores: [new Keyv({ store: contextStore(cache, core) })] }),
          }),
        ],
        controllers: [ProfileController],
        providers: [
          { provide: APP_GUARD, useClass: FakeAuthGuard },
          { provide: APP_INTERCEPTOR, useClass: NestCacheInterceptor },
        ],
      },
    );
  });

  afterEach(async () => {
    await booted.close();
  });

  it("never serves an anonymous response to a tenant, nor one tenant's to another", async () => {
    const anonymous = await get();
    expect(anonymous.body).toEqual({ tenant: 'anonymous', run: 1 });
    const acme = await get('acme');
    expect(acme.body).toEqual({ tenant: 'acme', run: 2 });
    const globex = await get('globex');
    expect(globex.body).toEqual({ tenant: 'globex', run: 3 });
    // Nothing was stored in the shared namespace.
    const cache = booted.get(CacheService);
    await expect(cache.has('keyv:keyv:/profile')).resolves.toBe(false);
    await expect(cache.has('keyv:/profile')).resolves.toBe(false);
  });
});

describe('CoordinationKeyvStore with a tenant function', () => {
  it('refuses a call outside a tenant with TenantRequiredError, before touching the cache', async () => {
    const booted = await bootModule({ driver: 'memory', health: { pingIntervalMs: 0 } });
    try {
      const cache = booted.get(CacheService);
      const store = contextStore(cache, booted.core);
      for (const call of [() => store.get('k'), () => store.set('k', 'v'), () => store.delete('k'), () => store.clear(), () => store.getMany(['k'])]) {
        const error = await rejectionOf(call());
        expect(error).toBeInstanceOf(TenantRequiredError);
        expect((error as Error).message).toMatch(/CoordinationKeyvStore/);
      }
      await expect(cache.has('k')).resolves.toBe(false);
      // Inside a tenant it is an ordinary store of that tenant.
      await booted.core.tenants.run('acme', () => store.set('k', 'v'));
      await expect(booted.core.tenants.run('acme', () => store.get('k'))).resolves.toBe('v');
      await expect(store.get('k')).rejects.toBeInstanceOf(TenantRequiredError);
      // A function returning a malformed tenant is a TenantInvalidError, not a fall back.
      const bad = new CoordinationKeyvStore(cache, { tenant: () => 'not a tenant' });
      await expect(bad.get('k')).rejects.toThrow(/tenant/i);
    } finally {
      await booted.close();
    }
  });

  it('through cache-manager, a refused read is a miss and a refused write stores nothing', async () => {
    const booted = await bootModule({ driver: 'memory', health: { pingIntervalMs: 0 }, prefix: uniquePrefix('keyvf') }, {
      imports: [CacheModule.registerAsync({
        inject: [CacheService, CoordinationCore],
        useFactory: (cache: CacheService, core: CoordinationCore) => ({ stores: [new Keyv({ store: contextStore(cache, core) })] }),
      })],
    });
    try {
      const manager = booted.get<Cache>(CACHE_MANAGER);
      await manager.set('plan', 'pro', 60_000).catch(() => undefined);
      await expect(manager.get('plan')).resolves.toBeUndefined();
      await expect(booted.core.tenants.run('acme', () => manager.get('plan'))).resolves.toBeUndefined();
      await booted.core.tenants.run('acme', () => manager.set('plan', 'pro', 60_000));
      await expect(booted.core.tenants.run('acme', () => manager.get('plan'))).resolves.toBe('pro');
    } finally {
      await booted.close();
    }
  });
});
