import 'reflect-metadata';
import { ErrorCode, RateLimitService, RateLimitedError, RedisUnavailableError } from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';

function appOn(server: RedisServerHandle, onRedisUnavailable: 'local' | 'fail-closed'): Promise<BootedModule> {
  return bootModule({
    connection: { url: server.url, commandTimeoutMs: 500, connectTimeoutMs: 2_000 },
    prefix: uniquePrefix('rlf'),
    reconnect: { baseDelayMs: 20, maxDelayMs: 100 },
    breaker: { failureThreshold: 3, openMs: 200 },
    health: { pingIntervalMs: 0 },
    rateLimit: { onRedisUnavailable },
  });
}

const policy = { limit: 2, windowMs: 60_000 };

describe('rate limits while Redis is unreachable', () => {
  let server: RedisServerHandle;
  const apps: BootedModule[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await server.stop();
  });

  it('falls back to a local per-instance limiter (source "local") and back to Redis when it returns', async () => {
    const app = await appOn(server, 'local');
    apps.push(app);
    const service = app.get(RateLimitService);
    expect(await service.consume('k', policy)).toMatchObject({ allowed: true, source: 'redis' });

    await server.kill();
    const during = [];
    for (let i = 0; i < 3; i++) during.push(await service.consume('k', policy));
    expect(during.map((r) => r.source)).toEqual(['local', 'local', 'local']);
    // the local limiter enforces the policy on its own
    expect(during.map((r) => r.allowed)).toEqual([true, true, false]);

    await server.restart();
    const after = await until(async () => {
      const result = await service.consume('other', policy);
      return result.source === 'redis' && result;
    }, { timeoutMs: 10_000, intervalMs: 50, message: 'a decision from Redis again' });
    expect(after).toMatchObject({ allowed: true, source: 'redis' });
  });

  it('fails closed when configured (source "fail-closed", allowed false, a retry time)', async () => {
    const app = await appOn(server, 'fail-closed');
    apps.push(app);
    const service = app.get(RateLimitService);
    expect((await service.consume('k2', policy)).source).toBe('redis');
    await server.kill();
    const denied = await service.consume('k2', policy);
    expect(denied).toMatchObject({ allowed: false, source: 'fail-closed', remaining: 0 });
    expect(denied.retryAfterMs).toBeGreaterThan(0);
    const many = await service.consumeMany([{ key: 'a', policy }, { key: 'b', policy }]);
    expect(many).toMatchObject({ allowed: false, source: 'fail-closed' });
    await server.restart();
  });

  it('enforce and enforceMany throw RedisUnavailableError, not RateLimitedError, when failing closed (as the guard answers 503, not 429)', async () => {
    const app = await appOn(server, 'fail-closed');
    apps.push(app);
    const service = app.get(RateLimitService);
    expect((await service.enforce('k3', policy)).source).toBe('redis');
    await server.kill();
    const one = await service.enforce('k3', policy).catch((error: unknown) => error);
    expect(one).toBeInstanceOf(RedisUnavailableError);
    expect(one).not.toBeInstanceOf(RateLimitedError);
    expect((one as RedisUnavailableError).code).toBe(ErrorCode.RedisUnavailable);
    expect((one as Error).cause).toBeInstanceOf(RedisUnavailableError);
    const many = await service.enforceMany([{ key: 'a3', policy }, { key: 'b3', policy }]).catch((error: unknown) => error);
    expect(many).toBeInstanceOf(RedisUnavailableError);
    expect(many).not.toBeInstanceOf(RateLimitedError);
    expect((many as RedisUnavailableError).code).toBe(ErrorCode.RedisUnavailable);
    expect((many as Error).cause).toBeInstanceOf(RedisUnavailableError);
    await server.restart();
  });
});
