import 'reflect-metadata';
import { Controller, Get, UseGuards, type INestApplication, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import request from 'supertest';
import { RateLimit, RateLimitGuard, RateLimitService, SkipRateLimit } from '@nest-coordination/core';
import { bootApp } from '../support/boot.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';

const MINUTE = 60_000;

@Controller('g')
@UseGuards(RateLimitGuard)
class GuardedController {
  @RateLimit({ scope: 'user', limit: 2, windowMs: MINUTE })
  @Get('user')
  user() {
    return { ok: true };
  }

  @RateLimit([
    { scope: 'user', name: 'u', limit: 5, windowMs: MINUTE },
    { scope: 'tenant', name: 'company', limit: 2, windowMs: MINUTE, algorithm: 'gcra' },
  ])
  @Get('multi')
  multi() {
    return { ok: true };
  }

  @RateLimit({ scope: 'endpoint', limit: 1, windowMs: MINUTE })
  @SkipRateLimit()
  @Get('skip')
  skip() {
    return { ok: true };
  }
}

@Controller('c')
@UseGuards(RateLimitGuard)
@RateLimit({ scope: 'ip', limit: 1, windowMs: MINUTE })
class ClassLevelController {
  @Get('a')
  a() {
    return 'a';
  }

  @SkipRateLimit()
  @Get('free')
  free() {
    return 'free';
  }
}

@Controller('global')
class GlobalController {
  @RateLimit({ scope: 'endpoint', limit: 1, windowMs: MINUTE })
  @Get()
  limited() {
    return 'ok';
  }

  @Get('open')
  open() {
    return 'open';
  }
}

async function createApp(controllers: Type<unknown>[], extraProviders: any[] = []): Promise<INestApplication> {
  const options = { ...REDIS_DRIVERS[0].options(), prefix: uniquePrefix('rlg'), rateLimit: { headers: 'both' as const } };
  const { app } = await bootApp(options, {
    controllers,
    providers: extraProviders,
    // Stands in for an auth guard: the user id comes from a header.
    configure: (nest) => nest.use((req: any, _res: unknown, next: () => void) => {
      if (req.headers['x-user']) req.user = { id: req.headers['x-user'] };
      next();
    }),
  });
  return app;
}

describe('RateLimitGuard (e2e, standalone Redis)', () => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await createApp([GuardedController, ClassLevelController]);
  });
  afterAll(() => app.close());

  it('sets the IETF RateLimit-Policy and RateLimit headers and the legacy set', async () => {
    const res = await request(app.getHttpServer()).get('/g/user').set('x-user', 'alice').expect(200);
    expect(res.headers['ratelimit-policy']).toBe('"user";q=2;w=60');
    expect(res.headers['ratelimit']).toBe('"user";r=1;t=60');
    expect(res.headers['x-ratelimit-limit']).toBe('2');
    expect(res.headers['x-ratelimit-remaining']).toBe('1');
    expect(res.headers['x-ratelimit-reset']).toBe('60');
  });

  it('denies with 429, Retry-After and a problem+json body naming the policy; keys are per user', async () => {
    const server = app.getHttpServer();
    await request(server).get('/g/user').set('x-user', 'bob').expect(200);
    await request(server).get('/g/user').set('x-user', 'bob').expect(200);
    const denied = await request(server).get('/g/user').set('x-user', 'bob').expect(429);
    expect(denied.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(denied.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(denied.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(denied.headers['ratelimit']).toMatch(/^"user";r=0;t=\d+$/);
    expect(denied.body).toMatchObject({ status: 429, code: 'E_RATE_LIMITED', policy: 'user', limit: 2, title: 'Too Many Requests' });
    // another user has their own counter
    await request(server).get('/g/user').set('x-user', 'carol').expect(200);
  });

  it('checks several policies atomically: a denial by the tenant policy consumes nothing from the user policy', async () => {
    const server = app.getHttpServer();
    const call = (user: string, tenant: string) => request(server).get('/g/multi').set('x-user', user).set('x-tenant-id', tenant);
    const ok = await call('dave', 'acme').expect(200);
    expect(ok.headers['ratelimit-policy']).toBe('"u";q=5;w=60, "company";q=2;w=60');
    expect(ok.headers['ratelimit']).toMatch(/^"u";r=4;t=60, "company";r=1;t=\d+$/);
    await call('dave', 'acme').expect(200);
    const denied = await call('dave', 'acme').expect(429);
    expect(denied.body.policy).toBe('company');
    const user = await app.get(RateLimitService).peek('user:dave', { name: 'u', limit: 5, windowMs: MINUTE, partition: 'tenant', tenant: 'acme' });
    expect(user.remaining).toBe(3);
    // the tenant policy counts per tenant (from the tenant context): another company is unaffected
    await call('dave', 'globex').expect(200);
  });

  it('@SkipRateLimit exempts a handler, also under a class-level @RateLimit', async () => {
    const server = app.getHttpServer();
    for (let i = 0; i < 3; i++) {
      const res = await request(server).get('/g/skip').expect(200);
      expect(res.headers['ratelimit']).toBeUndefined();
    }
    await request(server).get('/c/a').expect(200);
    await request(server).get('/c/a').expect(429);
    await request(server).get('/c/free').expect(200);
    await request(server).get('/c/free').expect(200);
  });
});

describe('RateLimitGuard registered globally with APP_GUARD', () => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await createApp([GlobalController], [{ provide: APP_GUARD, useClass: RateLimitGuard }]);
  });
  afterAll(() => app.close());

  it('limits decorated handlers without @UseGuards and leaves others alone', async () => {
    const server = app.getHttpServer();
    await request(server).get('/global').expect(200);
    const denied = await request(server).get('/global').expect(429);
    expect(denied.body.policy).toBe('endpoint');
    for (let i = 0; i < 3; i++) await request(server).get('/global/open').expect(200);
  });
});
