import 'reflect-metadata';
import {
  Catch, Controller, Get, HttpException, Injectable, UseFilters, UseGuards, type ArgumentsHost, type CanActivate, type ExceptionFilter,
  type ExecutionContext, type INestApplication, type Type,
} from '@nestjs/common';
import request from 'supertest';
import {
  RateLimit, RateLimitGuard, RateLimitService, TenantOptional, type CoordinationModuleOptions,
} from '@nest-coordination/core';
import { bootApp } from '../support/boot.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';

const MINUTE = 60_000;

/** Stands in for an auth guard that runs before RateLimitGuard: the user (and their org) from a header. */
@Injectable()
class FakeAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest();
    if (req.headers['x-user-org']) req.user = { id: 'u1', org: req.headers['x-user-org'] };
    return true;
  }
}

@Controller('t')
@UseGuards(FakeAuthGuard, RateLimitGuard)
class TenancyController {
  @TenantOptional()
  @RateLimit([{ scope: 'ip', limit: 2, windowMs: MINUTE }, { scope: 'tenant', limit: 100, windowMs: MINUTE }])
  @Get('optional')
  optional() {
    return 'ok';
  }

  @RateLimit({ scope: 'ip', limit: 5, windowMs: MINUTE })
  @Get('required')
  required() {
    return 'ok';
  }

  @RateLimit({ scope: 'tenant', name: 'org', limit: 5, windowMs: MINUTE })
  @Get('org')
  org() {
    return 'ok';
  }

  // Unnamed tenant rules of the same algorithm on two handlers: each must keep its own counter.
  @RateLimit({ scope: 'tenant', limit: 1, windowMs: MINUTE })
  @Get('a')
  a() {
    return 'a';
  }

  @RateLimit({ scope: 'tenant', limit: 3, windowMs: 2 * MINUTE })
  @Get('b')
  b() {
    return 'b';
  }
}

const caught: unknown[] = [];

/** Answers HttpExceptions as Nest does, and reports any other error's class and argument. */
@Catch()
class ReportingFilter implements ExceptionFilter {
  catch(error: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse();
    if (error instanceof HttpException) {
      res.status(error.getStatus()).json(error.getResponse());
      return;
    }
    caught.push(error);
    res.status(500).json({ name: (error as Error).constructor.name, argument: (error as { argument?: string }).argument });
  }
}

@Controller('p')
@UseGuards(RateLimitGuard)
@UseFilters(ReportingFilter)
class ProxyController {
  @RateLimit({ scope: 'ip', limit: 1, windowMs: MINUTE })
  @Get('ip')
  ip() {
    return 'ok';
  }

  @RateLimit({ scope: 'ip', name: 'tb', limit: 10, windowMs: MINUTE, algorithm: 'token-bucket', burst: 20 })
  @Get('burst')
  burst() {
    return 'ok';
  }

  @RateLimit({ scope: (ctx) => ctx.switchToHttp().getRequest().headers['x-api-key'], limit: 1, windowMs: MINUTE })
  @Get('key')
  key() {
    return 'ok';
  }

  @RateLimit({ scope: () => 42 as unknown as string, limit: 1, windowMs: MINUTE })
  @Get('bad-scope')
  badScope() {
    return 'ok';
  }
}

async function createApp(controllers: Type<unknown>[], options: CoordinationModuleOptions): Promise<INestApplication> {
  const { app } = await bootApp({ ...REDIS_DRIVERS[0].options(), prefix: uniquePrefix('rlh'), ...options }, { controllers, providers: [FakeAuthGuard] });
  return app;
}

describe('RateLimitGuard under tenancy.required (no CoordinationExceptionFilter)', () => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await createApp([TenancyController], {
      tenancy: { required: true, resolver: (req: any) => req.user?.org ?? req.headers['x-tenant'] },
    });
  });
  afterAll(() => app?.close());

  it('counts a @TenantOptional route without a tenant in the shared namespace, skipping tenant rules', async () => {
    const server = app.getHttpServer();
    const first = await request(server).get('/t/optional').expect(200);
    expect(first.headers['ratelimit-policy']).toBe('"ip";q=2;w=60');
    await request(server).get('/t/optional').expect(200);
    const denied = await request(server).get('/t/optional').expect(429);
    expect(denied.body).toMatchObject({ code: 'E_RATE_LIMITED', policy: 'ip' });
  });

  it('answers 400 (not 500) for a route that needs a tenant when none is found', async () => {
    const res = await request(app.getHttpServer()).get('/t/required').expect(400);
    expect(res.body).toMatchObject({ code: 'E_TENANT_REQUIRED' });
    // a malformed tenant only the authenticated user names (the middleware saw none)
    const bad = await request(app.getHttpServer()).get('/t/required').set('x-user-org', '_shared').expect(400);
    expect(bad.body).toMatchObject({ code: 'E_TENANT_INVALID' });
  });

  it("charges the authenticated user's tenant, not the one a client header names", async () => {
    await request(app.getHttpServer()).get('/t/org').set('x-user-org', 'acme').set('x-tenant', 'victim').expect(200);
    const service = app.get(RateLimitService);
    const policy = { name: 'org', limit: 5, windowMs: MINUTE, partition: 'tenant' };
    expect((await service.peek('tenant:acme', { ...policy, tenant: 'acme' })).remaining).toBe(4);
    expect((await service.peek('tenant:victim', { ...policy, tenant: 'victim' })).remaining).toBe(5);
  });

  it('keeps a separate counter per handler for unnamed tenant rules', async () => {
    const server = app.getHttpServer();
    const call = (path: string) => request(server).get(path).set('x-tenant', 'hx');
    await call('/t/a').expect(200);
    await call('/t/a').expect(429);
    for (let i = 0; i < 3; i++) {
      const res = await call('/t/b').expect(200);
      expect(res.headers['ratelimit']).toMatch(new RegExp(`^"tenant";r=${2 - i};`));
    }
    await call('/t/b').expect(429);
    await call('/t/a').expect(429);
  });
});

describe('RateLimitGuard client identification and headers', () => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await createApp([ProxyController], { rateLimit: { trustProxy: true } });
  });
  afterAll(() => app?.close());

  it('takes the rightmost X-Forwarded-For entry: a spoofed leftmost entry does not change the counted IP', async () => {
    const server = app.getHttpServer();
    await request(server).get('/p/ip').set('x-forwarded-for', 'spoof-1, 10.0.0.7').expect(200);
    await request(server).get('/p/ip').set('x-forwarded-for', 'spoof-2, 10.0.0.7').expect(429);
    await request(server).get('/p/ip').set('x-forwarded-for', '10.0.0.7, 10.0.0.8').expect(200);
  });

  it('advertises the burst as the quota of a token bucket whose burst exceeds the limit', async () => {
    const res = await request(app.getHttpServer()).get('/p/burst').set('x-forwarded-for', '10.0.1.1').expect(200);
    expect(res.headers['ratelimit-policy']).toBe('"tb";q=20;w=120');
    expect(res.headers['ratelimit']).toMatch(/^"tb";r=19;t=\d+$/);
  });

  it('hashes long trackers instead of failing, and still counts them', async () => {
    const server = app.getHttpServer();
    const long = `k-${'x:%'.repeat(200)}`;
    await request(server).get('/p/key').set('x-api-key', long).expect(200);
    await request(server).get('/p/key').set('x-api-key', long).expect(429);
    await request(server).get('/p/key').set('x-api-key', `${long}y`).expect(200);
  });

  it('rejects a custom scope that gives no string with InvalidArgumentError naming the scope', async () => {
    const res = await request(app.getHttpServer()).get('/p/bad-scope').expect(500);
    expect(res.body).toEqual({ name: 'InvalidArgumentError', argument: 'scope' });
    const empty = await request(app.getHttpServer()).get('/p/key').expect(500);
    expect(empty.body).toEqual({ name: 'InvalidArgumentError', argument: 'scope' });
  });
});

describe('RateLimitGuard with rateLimit.trustedProxies', () => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await createApp([ProxyController], { rateLimit: { trustProxy: true, trustedProxies: 2 } });
  });
  afterAll(() => app?.close());

  it('skips that many proxy hops from the right', async () => {
    const server = app.getHttpServer();
    await request(server).get('/p/ip').set('x-forwarded-for', 'spoof-1, 10.0.0.9, 10.0.0.1').expect(200);
    await request(server).get('/p/ip').set('x-forwarded-for', 'spoof-2, 10.0.0.9, 10.0.0.2').expect(429);
  });
});
