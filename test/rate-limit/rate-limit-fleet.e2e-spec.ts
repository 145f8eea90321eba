import 'reflect-metadata';
import { Controller, Get, UseGuards } from '@nestjs/common';
import request from 'supertest';
import { RateLimit, RateLimitGuard, RateLimitService, type CoordinationModuleOptions } from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootApp, type BootedApp } from '../support/boot.js';
import { uniquePrefix } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';
import { until } from '../support/wait.js';

const LIMIT = 5;
const MINUTE = 60_000;

@Controller('fleet')
@UseGuards(RateLimitGuard)
class FleetController {
  @RateLimit({ scope: 'global', name: 'reports', limit: LIMIT, windowMs: MINUTE })
  @Get('report')
  report(): string {
    return 'ok';
  }
}

/**
 * While Redis is unreachable each instance answers from its local limiter: sized by the fleet it
 * last saw alive, so two instances admit ceil(limit / 2) each, not the whole limit each; and the
 * response says that the fallback answered.
 */
describe('the local fallback is sized by the fleet', () => {
  let server: RedisServerHandle;
  const apps: BootedApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await server.stop();
  });

  async function instance(options: CoordinationModuleOptions): Promise<BootedApp> {
    const app = await bootApp(
      {
        connection: { url: server.url, commandTimeoutMs: 1_000, connectTimeoutMs: 2_000 },
        reconnect: { baseDelayMs: 50, maxDelayMs: 200 },
        health: { pingIntervalMs: 0 },
        ...options,
        // Live for 3 heartbeats (3 s): an instance stalled by a loaded machine does not drop out.
        rateLimit: { heartbeatIntervalMs: 1_000, ...options.rateLimit },
      },
      { controllers: [FleetController] },
    );
    apps.push(app);
    // An instance joins the fleet at its first check.
    await app.get(RateLimitService).consume('warm-up', { limit: 1_000, windowMs: MINUTE });
    return app;
  }

  const liveCounts = (): number[] => apps.map((a) => a.get(RateLimitService).liveInstances);

  it('two instances on one Redis see each other; with Redis gone each admits ceil(limit / 2), saying the fallback answered', async () => {
    server = await startRedisServer();
    const prefix = uniquePrefix('fleet');
    const [a, b] = [await instance({ prefix }), await instance({ prefix })];
    // another fleet (another prefix) on the same server is not counted
    await instance({ prefix: uniquePrefix('other') });
    await until(() => liveCounts().join() === '2,2,1', { timeoutMs: 10_000, message: () => `live counts 2,2,1 (got ${liveCounts().join()})` });

    await server.kill();
    const policy = { name: 'fleet', limit: LIMIT, windowMs: MINUTE };
    for (const app of [a, b]) {
      const service = app.get(RateLimitService);
      const answers = [];
      for (let i = 0; i < LIMIT; i++) answers.push(await service.consume('k', policy));
      expect(answers.map((r) => r.source)).toEqual(Array(LIMIT).fill('local'));
      // ceil(5 / 2) = 3 each: 6 for the fleet of two, not 10
      expect(answers.map((r) => r.allowed)).toEqual([true, true, true, false, false]);
      expect(service.liveInstances).toBe(2);
    }

    // Over HTTP: RateLimit-Policy carries src=local, and the 429 body says source "local".
    const http = a.app.getHttpServer();
    for (let i = 0; i < 3; i++) {
      const ok = await request(http).get('/fleet/report').expect(200);
      expect(ok.headers['ratelimit-policy']).toBe(`"reports";q=${LIMIT};w=60;src=local`);
    }
    const denied = await request(http).get('/fleet/report').expect(429);
    expect(denied.headers['ratelimit-policy']).toBe(`"reports";q=${LIMIT};w=60;src=local`);
    expect(denied.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(denied.body).toMatchObject({ code: 'E_RATE_LIMITED', policy: 'reports', source: 'local' });
  });

  it('an instance that shuts down leaves the fleet: the others count one less at their next heartbeat', async () => {
    server = await startRedisServer();
    const prefix = uniquePrefix('fleet');
    await instance({ prefix });
    const leaving = await instance({ prefix });
    await until(() => liveCounts().join() === '2,2', { timeoutMs: 10_000, message: () => `live counts 2,2 (got ${liveCounts().join()})` });
    apps.splice(apps.indexOf(leaving), 1);
    await leaving.close();
    await until(() => liveCounts().join() === '1', { timeoutMs: 10_000, message: () => `live count 1 (got ${liveCounts().join()})` });
  });

  it('an application that checks no rate limit joins no fleet and writes nothing', async () => {
    server = await startRedisServer();
    const prefix = uniquePrefix('fleet');
    const idle = await bootApp(
      { connection: { url: server.url }, prefix, health: { pingIntervalMs: 0 }, rateLimit: { heartbeatIntervalMs: 20 } },
      { controllers: [FleetController] },
    );
    apps.push(idle);
    // A few ticks of the heartbeat timer pass without a heartbeat.
    await until(() => idle.core.metrics.counter('ratelimit_heartbeat_ticks_total') >= 3, { timeoutMs: 10_000, message: '3 heartbeat ticks' });
    expect(await scanKeys(idle.core, `${prefix}:*`)).toEqual([]);
    expect(idle.get(RateLimitService).liveInstances).toBe(1);
  });

  it('headers and problem bodies name no fallback while Redis answers', async () => {
    server = await startRedisServer();
    const app = await instance({ prefix: uniquePrefix('fleet') });
    const http = app.app.getHttpServer();
    for (let i = 0; i < LIMIT; i++) {
      const ok = await request(http).get('/fleet/report').expect(200);
      expect(ok.headers['ratelimit-policy']).toBe(`"reports";q=${LIMIT};w=60`);
    }
    const denied = await request(http).get('/fleet/report').expect(429);
    expect(denied.body).toMatchObject({ code: 'E_RATE_LIMITED', source: 'redis' });
  });
});
