import { Controller, Get, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule, type HealthCheckResult } from '@nestjs/terminus';
import {
  CoordinationHealthIndicator, InvalidArgumentError, type CoordinationModuleOptions,
} from '@nest-coordination/core';
import request from 'supertest';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootApp } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';

@Controller('health')
class HealthController {
  constructor(private readonly health: HealthCheckService, private readonly coordination: CoordinationHealthIndicator) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.coordination.isHealthy()]);
  }

  /** Any memory use counts as "near the limit", to reach the degraded path on demand. */
  @Get('strict')
  @HealthCheck()
  strict(): Promise<HealthCheckResult> {
    return this.health.check([() => this.coordination.isHealthy('coordination', { memoryDegradedPercent: 0.001 })]);
  }
}

async function healthApp(options: CoordinationModuleOptions): Promise<INestApplication> {
  const { app } = await bootApp({ prefix: uniquePrefix('health'), ...options }, { imports: [TerminusModule], controllers: [HealthController] });
  return app;
}

/** Polls GET path until it answers `status`; fails the test if it never does. */
/**
 * Polls `path` until it answers `status` (and, given `coordination`, reports that status):
 * a 200 comes while the subscriber connection (the cache bus) may still be reconnecting
 * (`degraded`), so "back up" waits for `up` itself.
 */
async function waitForStatus(app: INestApplication, path: string, status: number, coordination?: string): Promise<request.Response> {
  let last: request.Response | undefined;
  return until(async () => {
    last = await request(app.getHttpServer()).get(path);
    const reported = last.body?.details?.coordination?.status;
    return last.status === status && (coordination === undefined || reported === coordination) && last;
  }, { timeoutMs: 15_000, intervalMs: 100, message: () => `GET ${path} to answer ${status}${coordination ? ` (${coordination})` : ''}; last: ${last?.status} ${JSON.stringify(last?.body)}` });
}

describe.each(DRIVERS)('CoordinationHealthIndicator ($name)', (driver) => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await healthApp(driver.options());
  });

  afterAll(async () => {
    await app?.close();
  });

  it('GET /health answers 200 with the coordination details', async () => {
    const started = performance.now();
    const res = await request(app.getHttpServer()).get('/health').expect(200);
    const elapsed = performance.now() - started;
    expect(res.body.status).toBe('ok');
    const details = res.body.details.coordination;
    expect(details.status).toBe('up');
    expect(details.reachable).toBe(true);
    if (driver.name === 'memory') {
      expect(details.driver).toBe('memory');
      expect(details.topology).toBeUndefined();
      return;
    }
    expect(details).toMatchObject({ driver: 'redis', connection: 'up', breaker: 'closed', role: 'master' });
    expect(details.topology).toBe(driver.name === 'cluster' ? 'cluster' : 'standalone');
    // The PING of this very check: a real round trip, so above zero and within the request's own time.
    expect(details.pingLatencyMs).toBeGreaterThan(0);
    expect(details.pingLatencyMs).toBeLessThanOrEqual(elapsed);
    // A fresh module on a server nobody restarts has never reconnected.
    expect(details.reconnectCount).toBe(0);
    expect(details.memory.usedBytes).toBeGreaterThan(0);
    expect(typeof details.memory.maxBytes).toBe('number');
  });

  it('reports cluster_state and slots on a cluster only', async () => {
    const result = await app.get(CoordinationHealthIndicator).isHealthy('coordination');
    if (driver.name === 'cluster') {
      expect(result.coordination.cluster).toMatchObject({ state: 'ok', slotsAssigned: 16384, slotsOk: 16384, knownNodes: 3, size: 3 });
      expect(result.coordination.masters).toBe(3);
      expect(result.coordination.memory.node).toMatch(/^127\.0\.0\.1:\d+$/);
    } else {
      expect(result.coordination.cluster).toBeUndefined();
    }
  });

  it('reports under the key it is given', async () => {
    const result = await app.get(CoordinationHealthIndicator).isHealthy('redis-main');
    expect(Object.keys(result)).toEqual(['redis-main']);
    expect(result['redis-main'].status).toBe('up');
  });

  it('rejects invalid check options with an error naming the option', async () => {
    const indicator = app.get(CoordinationHealthIndicator);
    await expect(indicator.isHealthy('coordination', { timeoutMs: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(indicator.isHealthy('coordination', { timeoutMs: Number.NaN })).rejects.toThrow('options.timeoutMs');
    await expect(indicator.isHealthy('coordination', { memoryDegradedPercent: 101 })).rejects.toThrow('options.memoryDegradedPercent');
  });
});

describe('CoordinationHealthIndicator with a private redis-server (faults)', () => {
  let server: RedisServerHandle;
  let app: INestApplication;

  beforeAll(async () => {
    server = await startRedisServer({ args: ['--maxmemory', '64mb'] });
    app = await healthApp({
      connection: { url: server.url, commandTimeoutMs: 1_000, connectTimeoutMs: 1_000 },
      reconnect: { baseDelayMs: 50, maxDelayMs: 200 },
      breaker: { failureThreshold: 5, openMs: 300 },
      health: { pingIntervalMs: 200 },
    });
  });

  afterAll(async () => {
    await app?.close();
    await server?.stop();
  });

  it('reports memory against maxmemory, and memory near the limit as degraded with HTTP 200', async () => {
    const up = await request(app.getHttpServer()).get('/health').expect(200);
    const memory = up.body.details.coordination.memory;
    expect(memory.maxBytes).toBe(64 * 1024 * 1024);
    expect(memory.usedPercent).toBeCloseTo((memory.usedBytes / memory.maxBytes) * 100, 0);

    const degraded = await request(app.getHttpServer()).get('/health/strict').expect(200);
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.details.coordination.status).toBe('degraded');
    expect(degraded.body.details.coordination.reasons.join(' ')).toContain('maxmemory');
  });

  it('answers 503 instead of hanging while redis-server is paused, and 200 once it resumes', async () => {
    server.pause();
    try {
      const res = await request(app.getHttpServer()).get('/health').expect(503);
      expect(res.body.status).toBe('error');
      expect(res.body.details.coordination).toMatchObject({ status: 'down', reachable: false });
      expect(res.body.error.coordination.status).toBe('down');
    } finally {
      server.resume();
    }
    const back = await waitForStatus(app, '/health', 200, 'up');
    expect(back.body.details.coordination.status).toBe('up');
  });

  it('goes down (503) when redis-server is killed and up (200) after it restarts on the same port', async () => {
    const before = (await request(app.getHttpServer()).get('/health').expect(200)).body.details.coordination;

    await server.kill();
    const down = await waitForStatus(app, '/health', 503);
    expect(down.body.details.coordination).toMatchObject({ status: 'down', reachable: false, driver: 'redis' });
    expect(down.body.details.coordination.reasons[0]).toContain('did not answer PING');
    expect(typeof down.body.details.coordination.lastError).toBe('string');

    await server.restart();
    const up = await waitForStatus(app, '/health', 200, 'up');
    expect(up.body.details.coordination).toMatchObject({ status: 'up', reachable: true, breaker: 'closed' });
    expect(up.body.details.coordination.reconnectCount).toBeGreaterThan(before.reconnectCount);
  });
});
