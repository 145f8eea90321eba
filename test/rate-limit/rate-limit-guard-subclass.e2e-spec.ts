import 'reflect-metadata';
import { Controller, Get, Injectable, UseGuards, type INestApplication } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import request from 'supertest';
import { CoordinationCore, RateLimit, RateLimitGuard, RateLimitService, TenantResolver } from '@nest-coordination/core';
import { bootApp } from '../support/boot.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';

/** A provider of the application that the subclass needs besides what RateLimitGuard takes. */
@Injectable()
class TrackerPrefix {
  readonly value = 'sub';
}

/**
 * A subclass written against the guard's four public constructor arguments, as @nestjs/throttler
 * subclasses are: the rateLimit options must still reach it (headers, client IP).
 */
@Injectable()
class PrefixedRateLimitGuard extends RateLimitGuard {
  constructor(
    rateLimits: RateLimitService,
    reflector: Reflector,
    core: CoordinationCore,
    tenantResolver: TenantResolver,
    private readonly prefix: TrackerPrefix,
  ) {
    super(rateLimits, reflector, core, tenantResolver);
  }

  protected override clientIp(request: Parameters<RateLimitGuard['clientIp']>[0]): string {
    return `${this.prefix.value}-${super.clientIp(request)}`;
  }
}

@Controller('sub')
@UseGuards(PrefixedRateLimitGuard)
class SubclassedController {
  @RateLimit({ scope: 'ip', limit: 1, windowMs: 60_000 })
  @Get()
  limited() {
    return { ok: true };
  }
}

describe('a RateLimitGuard subclass with its own constructor', () => {
  let app: INestApplication;
  beforeAll(async () => {
    const options = { ...REDIS_DRIVERS[0].options(), prefix: uniquePrefix('rlsub'), rateLimit: { headers: 'both' as const } };
    ({ app } = await bootApp(options, { controllers: [SubclassedController], providers: [TrackerPrefix, PrefixedRateLimitGuard] }));
  });
  afterAll(() => app.close());

  it('gets the rateLimit options by injection: headers on 200, then a 429', async () => {
    const server = app.getHttpServer();
    const ok = await request(server).get('/sub').expect(200);
    expect(ok.headers['ratelimit-policy']).toBe('"ip";q=1;w=60');
    expect(ok.headers['ratelimit']).toBe('"ip";r=0;t=60');
    expect(ok.headers['x-ratelimit-limit']).toBe('1');
    const denied = await request(server).get('/sub').expect(429);
    expect(denied.body).toMatchObject({ status: 429, code: 'E_RATE_LIMITED', policy: 'ip' });
  });
});
