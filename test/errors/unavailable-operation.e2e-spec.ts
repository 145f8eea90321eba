import 'reflect-metadata';
import { Controller, Get, UseFilters } from '@nestjs/common';
import request from 'supertest';
import { CoordinationExceptionFilter, LockService, RateLimitService } from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootApp, type BootedApp } from '../support/boot.js';

@Controller('outage')
@UseFilters(CoordinationExceptionFilter)
class OutageController {
  constructor(private readonly locks: LockService, private readonly rateLimits: RateLimitService) {}

  @Get('lock')
  async lock(): Promise<string> {
    const lock = await this.locks.acquire('report', { ttlMs: 10_000, waitMs: 0 });
    await lock.release();
    return 'ok';
  }

  @Get('permit')
  async permit(): Promise<string> {
    const lock = await this.locks.acquirePermit('llm', { permits: 2, ttlMs: 10_000, waitMs: 0 });
    await lock.release();
    return 'ok';
  }

  @Get('reset')
  async reset(): Promise<string> {
    await this.rateLimits.reset('k', { limit: 1, windowMs: 1_000 });
    return 'ok';
  }
}

/** Internal names a caller cannot act on: Lua script names (coordLockTryAcquire) and "any operation". */
const INTERNAL = /coord[A-Z]|any operation/;

/**
 * A 503 tells an HTTP caller which operation of the library could not reach Redis, in the terms of
 * its public API (`locks.acquire`), both when a command fails and while the circuit breaker is open.
 */
describe('503 bodies name the operation in public terms', () => {
  let server: RedisServerHandle;
  let booted: BootedApp;

  beforeAll(async () => {
    server = await startRedisServer();
    booted = await bootApp(
      {
        connection: { url: server.url, commandTimeoutMs: 1_000, connectTimeoutMs: 2_000 },
        reconnect: { baseDelayMs: 50, maxDelayMs: 200 },
        // Opens on the first failure and stays open for the test: the second call meets the open breaker.
        breaker: { failureThreshold: 1, openMs: 600_000 },
        health: { pingIntervalMs: 0 },
      },
      { controllers: [OutageController] },
    );
    await request(booted.app.getHttpServer()).get('/outage/lock').expect(200);
    await server.kill();
  });
  afterAll(async () => {
    await booted.close();
    await server.stop();
  });

  it('a failed command: E_REDIS_UNAVAILABLE naming locks.acquire, then E_CIRCUIT_OPEN naming the operation refused', async () => {
    const http = booted.app.getHttpServer();
    const failed = await request(http).get('/outage/lock').expect(503);
    expect(failed.body).toMatchObject({ code: 'E_REDIS_UNAVAILABLE', operation: 'locks.acquire' });
    expect(failed.body.detail).toContain('locks.acquire');
    expect(failed.body.detail).not.toMatch(INTERNAL);

    const refused = await request(http).get('/outage/permit').expect(503);
    expect(refused.body).toMatchObject({ code: 'E_CIRCUIT_OPEN', operation: 'locks.acquirePermit' });
    expect(refused.body.detail).toContain('locks.acquirePermit');
    expect(refused.body.detail).not.toMatch(INTERNAL);

    const reset = await request(http).get('/outage/reset').expect(503);
    expect(reset.body).toMatchObject({ code: 'E_CIRCUIT_OPEN', operation: 'rateLimit.reset' });
    expect(JSON.stringify(reset.body)).not.toMatch(INTERNAL);
  });
});
