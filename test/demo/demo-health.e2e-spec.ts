import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { REDIS_DRIVERS } from '../support/drivers.js';
import { expectNoTimersLeftBy } from '../support/timers.js';
import { until } from '../support/wait.js';
import { bootDemo } from './demo-test-app.js';

// The demo's /health answers anyone (load balancers): it must not tell them Redis' address,
// error text or memory figures (issue #8 item 12).
describe("demo app: GET /health tells an anonymous caller the status only (a private redis-server)", () => {
  let server: RedisServerHandle;
  let app: INestApplication;

  beforeAll(async () => {
    server = await startRedisServer();
    app = (await bootDemo(REDIS_DRIVERS.find((d) => d.name === 'standalone')!, {
      redisUrl: server.url,
      configure: (config) => ({
        ...config,
        coordination: {
          ...config.coordination,
          connection: { url: server.url, commandTimeoutMs: 1_000, connectTimeoutMs: 1_000 },
          reconnect: { baseDelayMs: 50, maxDelayMs: 200 },
          health: { pingIntervalMs: 200 },
        },
      }),
    })).app;
  });

  let closed = false;
  afterAll(async () => {
    if (!closed) await app?.close();
    await server?.stop();
  });

  it('answers up with nothing but the status', async () => {
    const res = await request(app.getHttpServer()).get('/health').expect(200);
    expect(res.body).toEqual({ status: 'ok', info: { coordination: { status: 'up' } }, error: {}, details: { coordination: { status: 'up' } } });
  });

  it('answers down without the error text, address or port of Redis', async () => {
    await server.kill();
    const port = new URL(server.url).port;
    let res: request.Response | undefined;
    await until(async () => {
      res = await request(app.getHttpServer()).get('/health');
      return res.status === 503;
    }, { timeoutMs: 15_000, intervalMs: 100, message: () => `GET /health to answer 503; last: ${res?.status}` });
    expect(res!.body).toEqual({ status: 'error', info: {}, error: { coordination: { status: 'down' } }, details: { coordination: { status: 'down' } } });
    expect(JSON.stringify(res!.body)).not.toContain(port);
    expect(JSON.stringify(res!.body)).not.toMatch(/PING|ECONNREFUSED|127\.0\.0\.1|memory/);
  });

  it('closes with Redis still down without leaving a timer that keeps the process alive', async () => {
    closed = true;
    await expectNoTimersLeftBy(() => app.close());
  });
});
