import 'reflect-metadata';
import { Controller, Post } from '@nestjs/common';
import request from 'supertest';
import { Idempotent, RedisUnavailableError } from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { privateServerDriver } from '../support/drivers.js';
import { rejectionOf } from '../support/wait.js';
import { idempotencyApp, type IdempotencyTestApp } from './idempotency-test-app.js';

/** Redis unreachable: the side effect never runs unprotected (503 over HTTP, RedisUnavailableError from the service). */

const seen = { runs: 0 };

@Controller('outage')
class OutageController {
  @Post()
  @Idempotent()
  start() {
    seen.runs += 1;
    return { run: seen.runs };
  }
}

describe('idempotency while Redis is down', () => {
  let server: RedisServerHandle;
  let app: IdempotencyTestApp;
  beforeAll(async () => {
    server = await startRedisServer();
    app = await idempotencyApp(privateServerDriver(server), {}, { http: true, controllers: [OutageController] });
  });
  afterAll(async () => {
    await app?.close();
    await server?.stop();
  });

  it('an @Idempotent request gets 503 and its handler does not run; IdempotencyService.run rejects without running fn', async () => {
    const http = request((app.booted as unknown as { app: { getHttpServer(): Parameters<typeof request>[0] } }).app.getHttpServer());
    await http.post('/outage').set('Idempotency-Key', 'before').expect(201);
    expect(seen.runs).toBe(1);
    await server.kill();
    const refused = await http.post('/outage').set('Idempotency-Key', 'during');
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ code: 'E_REDIS_UNAVAILABLE' });
    expect(seen.runs).toBe(1);
    let ran = false;
    const error = await rejectionOf(app.idempotency.run('during', () => (ran = true)));
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect(ran).toBe(false);
  });
});
