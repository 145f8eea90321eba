import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Controller, Get, Injectable, UseGuards, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import request from 'supertest';
import { RateLimit, RateLimitGuard, RateLimitService, type RateLimitCheck, type RateLimitRule } from '@nest-coordination/core';
import { bootApp } from '../support/boot.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';

const MINUTE = 60_000;
const RATE_LIMIT_METADATA = 'coordination:rate-limit';

@Controller('plan')
@UseGuards(RateLimitGuard)
class PlannedController {
  @RateLimit([
    { scope: 'ip', limit: 100, windowMs: MINUTE },
    { scope: 'ip', limit: 50, windowMs: MINUTE },
  ])
  @Get('a')
  a() {
    return 'a';
  }

  @RateLimit({ scope: 'ip', name: 'b', limit: 100, windowMs: MINUTE })
  @Get('b')
  b() {
    return 'b';
  }

  @Get('c')
  c() {
    return 'c';
  }
}

/** A rule object its owner changes after decorating (e.g. a config reload): the decorator has fixed it already. */
const reloadedRule: RateLimitRule = { scope: 'ip', name: 'reloaded', limit: 100, windowMs: MINUTE };

/** Records the rules its hooks are given. */
@Injectable()
class RecordingGuard extends RateLimitGuard {
  readonly seen: RateLimitRule[] = [];
  protected override async getTracker(req: never, rule: RateLimitRule, context: ExecutionContext): Promise<string> {
    this.seen.push(rule);
    return super.getTracker(req, rule, context);
  }
}

@Controller('reloaded')
@UseGuards(RecordingGuard)
class ReloadedController {
  @RateLimit(reloadedRule)
  @Get()
  get() {
    return 'ok';
  }
}

/** A limit read from configuration through a getter, as when the configuration loads after the decorator ran. */
const config = { limit: 100 };
const configuredRule: RateLimitRule = {
  scope: 'ip',
  name: 'configured',
  windowMs: MINUTE,
  get limit() {
    return config.limit;
  },
};

@Controller('configured')
@UseGuards(RateLimitGuard)
class ConfiguredController {
  @RateLimit(configuredRule)
  @Get()
  get() {
    return 'ok';
  }
}

/** A controller inheriting PlannedController's handlers (and its @UseGuards), with its own class-level rule. */
@Controller('inherited')
@RateLimit({ scope: 'ip', name: 'class', limit: 100, windowMs: MINUTE })
class InheritingController extends PlannedController {}

describe('RateLimitGuard reads a handler\'s metadata once (the hot path)', () => {
  let app: INestApplication;
  beforeAll(async () => {
    const options = { ...REDIS_DRIVERS[0].options(), prefix: uniquePrefix('rlplan') };
    ({ app } = await bootApp(options, { controllers: [PlannedController, InheritingController, ReloadedController, ConfiguredController], providers: [RecordingGuard] }));
  });
  afterAll(() => app.close());
  afterEach(() => jest.restoreAllMocks());

  it('looks up @RateLimit metadata on the first request to a handler only', async () => {
    const lookups = jest.spyOn(app.get(Reflector), 'getAllAndOverride');
    const server = app.getHttpServer();
    for (let i = 0; i < 4; i++) await request(server).get('/plan/b').expect(200);
    const rateLimitLookups = lookups.mock.calls.filter(([key]) => key === RATE_LIMIT_METADATA);
    expect(rateLimitLookups).toHaveLength(1);
  });

  it('checks the same validated policy object on every request to a handler, named as advertised', async () => {
    const consumeMany = jest.spyOn(app.get(RateLimitService), 'consumeMany');
    const server = app.getHttpServer();
    const first = await request(server).get('/plan/a').expect(200);
    await request(server).get('/plan/a').expect(200);
    expect(first.headers['ratelimit-policy']).toBe('"ip";q=100;w=60, "ip-1";q=50;w=60');
    const [once, twice] = consumeMany.mock.calls.map(([checks]) => checks as readonly RateLimitCheck[]);
    expect(once.map((c) => c.policy.name)).toEqual(['ip', 'ip-1']);
    expect(twice[0].policy).toBe(once[0].policy);
    expect(twice[1].policy).toBe(once[1].policy);
  });

  it('keeps one plan per controller for a handler two controllers share', async () => {
    const server = app.getHttpServer();
    // The same function, unlimited under one controller, limited by the class-level rule of the other.
    expect((await request(server).get('/plan/c').expect(200)).headers['ratelimit-policy']).toBeUndefined();
    expect((await request(server).get('/inherited/c').expect(200)).headers['ratelimit-policy']).toBe('"class";q=100;w=60');
    expect((await request(server).get('/plan/c').expect(200)).headers['ratelimit-policy']).toBeUndefined();
    // The method's own rule overrides the class's (getAllAndOverride), in the subclass as well.
    expect((await request(server).get('/inherited/b').expect(200)).headers['ratelimit-policy']).toBe('"b";q=100;w=60');
    // Unnamed rules count per controller and handler.
    const a = await request(server).get('/inherited/a').expect(200);
    expect(a.headers['ratelimit-policy']).toBe('"ip";q=100;w=60, "ip-1";q=50;w=60');
    expect(a.headers['ratelimit']).toMatch(/^"ip";r=99;t=60, "ip-1";r=49;t=60$/);
  });

  it('checks and hands to its hooks the rules as @RateLimit() saw them, whenever their objects change', async () => {
    const server = app.getHttpServer();
    (reloadedRule as { limit: number }).limit = 5;
    const first = await request(server).get('/reloaded').expect(200);
    (reloadedRule as { limit: number }).limit = 2;
    const second = await request(server).get('/reloaded').expect(200);
    for (const res of [first, second]) expect(res.headers['ratelimit-policy']).toBe('"reloaded";q=100;w=60');
    expect(second.headers['ratelimit']).toBe('"reloaded";r=98;t=60');
    const { seen } = app.get(RecordingGuard);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toBe(seen[0]);
    expect(seen[0]).toMatchObject({ name: 'reloaded', limit: 100 });
    expect(Object.isFrozen(seen[0])).toBe(true);
  });

  it('reads a rule with getters on every request, so a limit from configuration loaded later applies', async () => {
    const server = app.getHttpServer();
    expect((await request(server).get('/configured').expect(200)).headers['ratelimit-policy']).toBe('"configured";q=100;w=60');
    config.limit = 5;
    const res = await request(server).get('/configured').expect(200);
    expect(res.headers['ratelimit-policy']).toBe('"configured";q=5;w=60');
    expect(res.headers['ratelimit']).toBe('"configured";r=3;t=60');
  });
});
