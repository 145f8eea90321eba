import { Controller, Get, Headers, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule, type HealthCheckResult } from '@nestjs/terminus';
import { CoordinationHealthIndicator, InvalidArgumentError, type CoordinationModuleOptions } from '@nest-coordination/core';
import request from 'supertest';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootApp } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';

/** The pattern the indicator documents: full details for an operator, status only for anyone else. */
@Controller('health')
class HealthController {
  constructor(private readonly health: HealthCheckService, private readonly coordination: CoordinationHealthIndicator) {}

  @Get()
  @HealthCheck()
  check(@Headers('x-operator') operator?: string): Promise<HealthCheckResult> {
    const details = operator === 'yes' ? 'full' : 'status';
    return this.health.check([() => this.coordination.isHealthy('coordination', { details })]);
  }

  /** Any memory use counts as "near the limit", to reach the degraded path on demand. */
  @Get('strict')
  @HealthCheck()
  strict(): Promise<HealthCheckResult> {
    return this.health.check([() => this.coordination.isHealthy('coordination', { details: 'status', memoryDegradedPercent: 0.001 })]);
  }
}

async function healthApp(options: CoordinationModuleOptions): Promise<INestApplication> {
  const { app } = await bootApp({ prefix: uniquePrefix('hdetails'), ...options }, { imports: [TerminusModule], controllers: [HealthController] });
  return app;
}

describe.each(DRIVERS)("CoordinationHealthIndicator details: 'status' ($name)", (driver) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await healthApp(driver.options());
  });
  afterAll(() => app?.close());

  it('reports the status and nothing else', async () => {
    const indicator = app.get(CoordinationHealthIndicator);
    expect(await indicator.isHealthy('coordination', { details: 'status' })).toEqual({ coordination: { status: 'up' } });
    const anonymous = await request(app.getHttpServer()).get('/health').expect(200);
    expect(anonymous.body.details).toEqual({ coordination: { status: 'up' } });
    const operator = await request(app.getHttpServer()).get('/health').set('x-operator', 'yes').expect(200);
    expect(operator.body.details.coordination).toMatchObject({ status: 'up', reachable: true, driver: driver.name === 'memory' ? 'memory' : 'redis' });
  });

  it('rejects an unknown details value with an error naming the option', async () => {
    const indicator = app.get(CoordinationHealthIndicator);
    await expect(indicator.isHealthy('coordination', { details: 'some' as never })).rejects.toThrow(InvalidArgumentError);
    await expect(indicator.isHealthy('coordination', { details: 'some' as never })).rejects.toThrow('options.details');
  });
});

describe("CoordinationHealthIndicator details: 'status' with a private redis-server (faults)", () => {
  let server: RedisServerHandle;
  let app: INestApplication;

  beforeAll(async () => {
    server = await startRedisServer({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction'] });
    app = await healthApp({
      connection: { url: server.url, commandTimeoutMs: 1_000, connectTimeoutMs: 1_000 },
      reconnect: { baseDelayMs: 50, maxDelayMs: 200 },
      health: { pingIntervalMs: 200 },
    });
  });

  afterAll(async () => {
    await app?.close();
    await server?.stop();
  });

  it('tells an anonymous caller that memory is near the limit as `degraded` only, without the figures', async () => {
    const res = await request(app.getHttpServer()).get('/health/strict').expect(200);
    expect(res.body.status).toBe('degraded');
    expect(res.body.details).toEqual({ coordination: { status: 'degraded' } });
    expect(JSON.stringify(res.body)).not.toMatch(/memory|maxmemory|usedBytes/);
  });

  it('tells an anonymous caller that Redis is down, without the error text, address or memory figures', async () => {
    await server.kill();
    const port = new URL(server.url).port;
    let full: request.Response | undefined;
    // The operator's view shows the connection error the anonymous one must not.
    await until(async () => {
      full = await request(app.getHttpServer()).get('/health').set('x-operator', 'yes');
      return full.status === 503 && full;
    }, { timeoutMs: 15_000, intervalMs: 100, message: () => `GET /health to answer 503; last: ${full?.status}` });
    expect(JSON.stringify(full!.body)).toContain('did not answer PING');

    const anonymous = await request(app.getHttpServer()).get('/health').expect(503);
    expect(anonymous.body).toEqual({
      status: 'error', info: {}, error: { coordination: { status: 'down' } }, details: { coordination: { status: 'down' } },
    });
    expect(JSON.stringify(anonymous.body)).not.toContain(port);
  });
});
