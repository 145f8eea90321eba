import 'reflect-metadata';
import { Controller, Get, UseGuards } from '@nestjs/common';
import request from 'supertest';
import { ManualClock, RateLimit, RateLimitGuard, TenantOptional } from '@nest-coordination/core';
import { bootApp, type BootedApp } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';

const MINUTE = 60_000;

@Controller('scope')
@UseGuards(RateLimitGuard)
class ScopeController {
  /** Per tenant: every company gets 2 per minute on this handler. */
  @RateLimit({ scope: 'endpoint', limit: 2, windowMs: MINUTE })
  @Get('endpoint')
  endpoint() {
    return 'ok';
  }

  /** The handler as a whole: 2 per minute across every company. */
  @RateLimit({ scope: 'global', limit: 2, windowMs: MINUTE })
  @Get('global')
  global() {
    return 'ok';
  }

  /** A named global rule is one counter for every handler that uses the name. */
  @RateLimit({ scope: 'global', name: 'exports', limit: 3, windowMs: MINUTE })
  @Get('export-a')
  exportA() {
    return 'ok';
  }

  @RateLimit({ scope: 'global', name: 'exports', limit: 3, windowMs: MINUTE })
  @Get('export-b')
  exportB() {
    return 'ok';
  }

  /** 1 per company, 3 across companies: mixed scopes, two script calls. */
  @RateLimit([
    { scope: 'tenant', name: 'company', limit: 1, windowMs: MINUTE },
    { scope: 'global', name: 'everyone', limit: 3, windowMs: MINUTE },
  ])
  @Get('mixed')
  mixed() {
    return 'ok';
  }

  @TenantOptional()
  @RateLimit({ scope: 'global', name: 'signup', limit: 1, windowMs: MINUTE })
  @Get('signup')
  signup() {
    return 'ok';
  }
}

/**
 * `endpoint` counts a handler per tenant, `global` counts it across tenants, on every driver
 * (on a cluster the global counter lives in its own slot, and a rule set mixing it with a
 * tenant's rules still works).
 */
describe.each(DRIVERS)('the global scope on $name', (driver) => {
  let booted: BootedApp;
  beforeAll(async () => {
    booted = await bootApp(
      { ...driver.options(), prefix: uniquePrefix('rlgs'), clock: new ManualClock(1_700_000_000_000), tenancy: { required: true }, health: { pingIntervalMs: 0 } },
      { controllers: [ScopeController] },
    );
  });
  afterAll(() => booted.close());

  const get = (path: string, tenant?: string) => {
    const call = request(booted.app.getHttpServer()).get(path);
    return tenant === undefined ? call : call.set('x-tenant-id', tenant);
  };
  const statuses = async (path: string, tenants: string[]) => {
    const out: number[] = [];
    for (const tenant of tenants) out.push((await get(path, tenant)).status);
    return out;
  };

  it('endpoint counts per tenant: each company gets the whole limit', async () => {
    expect(await statuses('/scope/endpoint', ['acme', 'acme', 'acme', 'globex', 'globex'])).toEqual([200, 200, 429, 200, 200]);
  });

  it('global counts across tenants: the handler as a whole gets the limit', async () => {
    expect(await statuses('/scope/global', ['acme', 'globex', 'initech'])).toEqual([200, 200, 429]);
    const denied = await get('/scope/global', 'umbrella').expect(429);
    expect(denied.body).toMatchObject({ code: 'E_RATE_LIMITED', policy: 'global', limit: 2 });
    expect(denied.headers['ratelimit-policy']).toBe('"global";q=2;w=60');
  });

  it('a named global rule is shared by every handler using the name', async () => {
    expect(await statuses('/scope/export-a', ['acme', 'globex'])).toEqual([200, 200]);
    expect(await statuses('/scope/export-b', ['initech', 'umbrella'])).toEqual([200, 429]);
  });

  it('mixed with a tenant rule: each company once, three across companies; a company over its own limit takes nothing global', async () => {
    expect(await statuses('/scope/mixed', ['acme', 'acme', 'acme', 'globex', 'initech', 'umbrella'])).toEqual([200, 429, 429, 200, 200, 429]);
    const denied = await get('/scope/mixed', 'hooli').expect(429);
    expect(denied.body).toMatchObject({ policy: 'everyone' });
  });

  it('counts a @TenantOptional request without a tenant on the same global counter', async () => {
    await get('/scope/signup').expect(200);
    await get('/scope/signup', 'acme').expect(429);
  });
});
