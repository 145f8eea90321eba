import 'reflect-metadata';
import request from 'supertest';
import { ErrorCode, RedisUnavailableError } from '@nest-coordination/core';
import { CoordinationThrottlerStorage } from '@nest-coordination/core/throttler';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import type { BootedApp } from '../support/boot.js';
import { privateServerDriver, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { coordinatedApp, get } from './throttler-apps.js';

// While Redis is unreachable (killed) or silent (SIGSTOP), the storage follows the rate limits'
// documented policy, rateLimit.onRedisUnavailable: `local` (this instance's fleet share of each
// limit) or `fail-closed` (503, not the guard's 429), and shares the counts again once Redis answers.

const LIMIT = 6;
const ONE_THROTTLER = [{ name: 'default', ttl: 60_000, limit: LIMIT }];

describe('CoordinationThrottlerStorage while Redis is unreachable', () => {
  let server: RedisServerHandle;
  const apps: BootedApp[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await server.stop();
  });

  const boot = async (onRedisUnavailable: 'local' | 'fail-closed', prefix: string, timeoutMs = 250): Promise<BootedApp> => {
    const app = await coordinatedApp(
      { ...privateServerDriver(server).options(), prefix, rateLimit: { onRedisUnavailable, heartbeatIntervalMs: 100, timeoutMs } },
      undefined,
      ONE_THROTTLER,
    );
    apps.push(app);
    return app;
  };
  const storageOf = (app: BootedApp) => app.get(CoordinationThrottlerStorage);

  it('local: each instance admits its fleet share, ceil(limit / live instances), then Redis counts again', async () => {
    const prefix = uniquePrefix('thro');
    const [a, b] = [await boot('local', prefix), await boot('local', prefix)];
    // Each joins the fleet at its first hit; the heartbeats then count two instances.
    expect([(await get(a, 'page', 'warm-a')).status, (await get(b, 'page', 'warm-b')).status]).toEqual([200, 200]);
    await until(() => storageOf(a).liveInstances === 2 && storageOf(b).liveInstances === 2, { timeoutMs: 10_000, message: 'both instances to see a fleet of 2' });

    await server.kill();
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT; i++) statuses.push((await get(a, 'page', 'outage')).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]); // 3 = ceil(6 / 2)
    expect(await storageOf(b).increment('direct', 60_000, LIMIT, 60_000, 'default')).toMatchObject({ source: 'local', isBlocked: false, totalHits: 1 });
    expect(a.core.metrics.counter('ratelimit_throttler_hits_total', { throttler: 'default', outcome: 'allowed', source: 'local' })).toBe(3);
    expect(a.core.metrics.counter('ratelimit_throttler_hits_total', { throttler: 'default', outcome: 'blocked', source: 'local' })).toBe(3);
    expect(a.core.metrics.counter('ratelimit_redis_unavailable_total', { mode: 'local' })).toBeGreaterThanOrEqual(LIMIT);

    await server.restart();
    const shared = await until(async () => {
      const record = await storageOf(a).increment('after', 60_000, LIMIT, 60_000, 'default');
      return record.source === 'redis' && record;
    }, { timeoutMs: 15_000, intervalMs: 50, message: 'a hit counted by Redis again' });
    expect(shared.isBlocked).toBe(false);
  });

  it('fail-closed: answers 503 (a CoordinationHttpException carrying RedisUnavailableError), never 429', async () => {
    const app = await boot('fail-closed', uniquePrefix('thro'));
    expect((await get(app, 'page', 'before')).status).toBe(200);
    await server.kill();
    const response = await request(app.app.getHttpServer()).get('/page').set('x-client', 'during');
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ code: ErrorCode.RedisUnavailable, status: 503 });
    const error = await storageOf(app).increment('direct', 60_000, LIMIT, 60_000, 'default').catch((e: unknown) => e);
    expect((error as { error?: unknown }).error).toBeInstanceOf(RedisUnavailableError);
    expect((error as { getStatus(): number }).getStatus()).toBe(503);
    expect(app.core.metrics.counter('ratelimit_throttler_hits_total', { throttler: 'default', outcome: 'blocked', source: 'fail-closed' })).toBe(2);
    await server.restart();
  });

  it('a Redis that stops answering (SIGSTOP) is answered locally after rateLimit.timeoutMs, without waiting for the command timeout', async () => {
    const app = await boot('local', uniquePrefix('thro'), 100);
    expect((await get(app, 'page', 'before')).status).toBe(200);
    server.pause();
    try {
      const record = await storageOf(app).increment('stalled', 60_000, LIMIT, 60_000, 'default');
      expect(record).toMatchObject({ source: 'local', isBlocked: false });
      expect(app.core.metrics.counter('ratelimit_timeouts_total')).toBe(1);
      // Degraded: the next hits are answered locally at once (one probe at a time goes to Redis).
      expect((await get(app, 'page', 'stalled-http')).status).toBe(200);
    } finally {
      server.resume();
    }
  });
});
