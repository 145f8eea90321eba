import type { INestApplication } from '@nestjs/common';
import { CoordinationCore } from '@nest-coordination/core';
import request from 'supertest';
import { METRICS_TOKEN_MIN_LENGTH, demoConfigFromEnv, type DemoConfig } from '../../apps/demo/src/demo.config.js';
import { DemoMetrics } from '../../apps/demo/src/telemetry/demo-metrics.js';
import { DRIVERS } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { DEMO_BACKENDS, bootDemo } from './demo-test-app.js';
import { parseExposition, promtoolCheckMetrics, series, total, type Sample } from './prometheus-exposition.js';

/** `GET /metrics` with no credentials at all (no cookie, no user, no company), or with `headers`. */
async function scrape(app: INestApplication, headers: Record<string, string> = {}): Promise<{ text: string; contentType: string; samples: Sample[]; types: Map<string, string> }> {
  const res = await request(app.getHttpServer()).get('/metrics').set(headers).expect(200);
  return { text: res.text, contentType: String(res.headers['content-type']), ...parseExposition(res.text) };
}

/** The meter provider `CoordinationModule` records into, as it resolved its options. */
const coordinationMeterProvider = (app: INestApplication) => app.get(CoordinationCore).options.telemetry.meterProvider;

describe.each(DEMO_BACKENDS)('demo app: GET /metrics for Prometheus ($name)', (driver) => {
  let app: INestApplication;
  let config: DemoConfig;

  beforeAll(async () => {
    ({ app } = await bootDemo(driver, { configure: (c) => (config = c) }));
  });

  afterAll(async () => {
    await app?.close();
  });

  it('exposes the coordination metrics of real traffic without login, in a text format promtool accepts', async () => {
    // Traffic: a login (a session), a crew run (its lock, two agent-step tasks), a crew read
    // twice (a cache miss, then a hit), and agent calls until the per-user burst is used up (429).
    const ada = request.agent(app.getHttpServer());
    await ada.post('/auth/login').send({ userId: 'u-ada', companyId: 'acme' }).expect(201);
    await ada.post('/crews/market-research/runs?durationMs=0').expect(201);
    await ada.get('/crews/support-triage').expect(200);
    await ada.get('/crews/support-triage').expect(200);
    await until(async () => (await ada.post('/crews/market-research/agents/a-1/calls')).status === 429, {
      timeoutMs: 10_000, intervalMs: 1, message: 'an agent call over the per-user burst (429)',
    });

    const { text, contentType, samples, types } = await scrape(app);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4(; charset=utf-8)?$/);
    expect(await promtoolCheckMetrics(text)).toEqual({ code: 0, output: '' });

    // The exposition names the demo as its service.
    expect(series(samples, 'target_info').map((s) => s.labels.service_name)).toEqual(['nest-coordination-demo']);

    // Sessions: the login created one.
    expect(types.get('coordination_sessions_created_total')).toBe('counter');
    expect(total(samples, 'coordination_sessions_created_total')).toBeGreaterThanOrEqual(1);

    // Locks: the run's mutex, as a histogram of acquire durations (its count: acquisitions).
    expect(types.get('coordination_lock_acquire_duration')).toBe('histogram');
    const acquired = series(samples, 'coordination_lock_acquire_duration_count', { kind: 'mutex' });
    expect(acquired).toHaveLength(1);
    expect(acquired[0].value).toBeGreaterThanOrEqual(1);
    // The buckets and sum of that very series (its labels, whatever attributes it carries, plus `le`).
    const buckets = series(samples, 'coordination_lock_acquire_duration_bucket', acquired[0].labels);
    expect(buckets.map((b) => b.labels.le)).toEqual(['0.1', '0.25', '0.5', '1', '2', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '+Inf']);
    const counts = buckets.map((b) => b.value);
    expect(counts).toEqual([...counts].sort((a, b) => a - b)); // cumulative
    expect(counts.at(-1)).toBe(acquired[0].value);
    expect(series(samples, 'coordination_lock_acquire_duration_sum', acquired[0].labels)).toEqual([expect.objectContaining({ value: expect.any(Number) })]);

    // Tasks: the run enqueued one agent step per agent of the crew, under the company's tenant.
    expect(total(samples, 'coordination_tasks_enqueued_total', { tenant: 'acme' })).toBeGreaterThanOrEqual(2);
    expect(total(samples, 'coordination_tasks_completed_total', { tenant: 'acme' })).toBeGreaterThanOrEqual(2);

    // Cache: the first read missed, the second hit.
    expect(total(samples, 'coordination_cache_misses_total')).toBeGreaterThanOrEqual(1);
    expect(total(samples, 'coordination_cache_hits_total')).toBeGreaterThanOrEqual(1);

    // Rate limits: the login, the run and the calls were allowed; the last call was denied by the user's burst.
    expect(total(samples, 'coordination_ratelimit_allowed_total')).toBeGreaterThanOrEqual(3);
    expect(total(samples, 'coordination_ratelimit_denied_total', { policy: 'agent-call-user' })).toBeGreaterThanOrEqual(1);
  });

  it('counts on as traffic goes on: a second run raises the acquisitions by one', async () => {
    const acquisitions = async () => total((await scrape(app)).samples, 'coordination_lock_acquire_duration_count', { kind: 'mutex' });
    const before = await acquisitions();
    await request(app.getHttpServer()).post('/crews/support-triage/runs?durationMs=0').set({ 'x-user-id': 'u-bob', 'x-company-id': 'acme' }).expect(201);
    expect(await acquisitions()).toBe(before + 1);
  });

  it("reports this app's own metrics only: each demo app has its own meter provider, not the global one", async () => {
    expect(coordinationMeterProvider(app)).toBe(app.get(DemoMetrics).meterProvider);
    const { app: other } = await bootDemo(driver);
    try {
      const { samples } = await scrape(other);
      expect(total(samples, 'coordination_sessions_created_total')).toBe(0);
      expect(total(samples, 'coordination_lock_acquire_duration_count')).toBe(0);
      expect(total((await scrape(app)).samples, 'coordination_sessions_created_total')).toBeGreaterThanOrEqual(1);
    } finally {
      await other.close();
    }
  });

  it('gives each app booted from one configuration a meter provider of its own: one shutting down leaves the other scraping', async () => {
    const { app: twin } = await bootDemo(driver, { configure: () => config });
    try {
      expect(twin.get(DemoMetrics)).not.toBe(app.get(DemoMetrics));
      expect(coordinationMeterProvider(twin)).toBe(twin.get(DemoMetrics).meterProvider);
      expect(total((await scrape(twin)).samples, 'coordination_sessions_created_total')).toBe(0);
    } finally {
      await twin.close();
    }
    expect(total((await scrape(app)).samples, 'coordination_sessions_created_total')).toBeGreaterThanOrEqual(1);
  });

  it('shuts its meter provider down with the app', async () => {
    const { app: other } = await bootDemo(driver);
    const metrics = other.get(DemoMetrics);
    await scrape(other);
    await other.close();
    await expect(metrics.scrape()).rejects.toThrow(/shut ?down/i);
  });
});

const TOKEN = 'metrics-token-0123456789abcdef';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
// Who may scrape does not depend on the backend: the memory driver only.
const MEMORY = DRIVERS.filter((d) => d.name === 'memory');

describe.each(MEMORY)('demo app: who may read GET /metrics ($name)', (driver) => {
  describe('with METRICS_TOKEN set', () => {
    let app: INestApplication;
    beforeAll(async () => {
      ({ app } = await bootDemo(driver, { env: { METRICS_TOKEN: TOKEN } }));
    });
    afterAll(async () => {
      await app?.close();
    });

    it('refuses a scrape without the token, or with another one, with 401 and a Bearer challenge', async () => {
      const server = app.getHttpServer();
      for (const headers of [{}, bearer('metrics-token-0123456789abcdeX'), bearer('short'), bearer(`${TOKEN}x`), { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
        const res = await request(server).get('/metrics').set(headers);
        expect({ headers, status: res.status }).toEqual({ headers, status: 401 });
        expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
        expect(res.text).not.toContain('coordination_');
      }
    });

    it('serves the exposition to a scrape with the token (any case of the scheme)', async () => {
      expect(series((await scrape(app, bearer(TOKEN))).samples, 'target_info')).toHaveLength(1);
      expect(series((await scrape(app, { authorization: `bearer ${TOKEN}` })).samples, 'target_info')).toHaveLength(1);
    });
  });

  describe('with NODE_ENV=production and no METRICS_TOKEN', () => {
    let app: INestApplication;
    beforeAll(async () => {
      ({ app } = await bootDemo(driver, { env: { NODE_ENV: 'production', SESSION_SECRET: 'a-production-session-secret-0123456789' } }));
    });
    afterAll(async () => {
      await app?.close();
    });

    it('does not serve /metrics at all, and gives the library no meter provider to record into', async () => {
      await request(app.getHttpServer()).get('/metrics').expect(404);
      await request(app.getHttpServer()).get('/metrics').set(bearer(TOKEN)).expect(404);
      await request(app.getHttpServer()).get('/health').expect(200);
      expect(coordinationMeterProvider(app)).toBeUndefined();
    });
  });
});

describe('demo configuration of /metrics (demoConfigFromEnv)', () => {
  it('is plain data: the meter provider is created with the app, not with the configuration', () => {
    const config = demoConfigFromEnv({ METRICS_TOKEN: TOKEN });
    expect(structuredClone(config)).toStrictEqual(config);
    expect(config.coordination.telemetry?.meterProvider).toBeUndefined();
  });

  it('requires METRICS_TOKEN when set; without it, /metrics is open in development and off in production', () => {
    expect(demoConfigFromEnv({ METRICS_TOKEN: ` ${TOKEN} ` }).metrics).toEqual({ access: 'token', token: TOKEN });
    expect(demoConfigFromEnv({ METRICS_TOKEN: TOKEN, NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(32) }).metrics).toEqual({ access: 'token', token: TOKEN });
    expect(demoConfigFromEnv({}).metrics).toEqual({ access: 'open' });
    expect(demoConfigFromEnv({ METRICS_TOKEN: ' ' }).metrics).toEqual({ access: 'open' });
    expect(demoConfigFromEnv({ NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(32) }).metrics).toEqual({ access: 'off' });
  });

  it('refuses a METRICS_TOKEN too short to be safe or unfit for a header, naming it', () => {
    expect(() => demoConfigFromEnv({ METRICS_TOKEN: 'x'.repeat(METRICS_TOKEN_MIN_LENGTH - 1) })).toThrow(/^METRICS_TOKEN must be at least 16 characters, got 15$/);
    expect(() => demoConfigFromEnv({ METRICS_TOKEN: 'metrics token with spaces' })).toThrow(/^METRICS_TOKEN must be visible ASCII characters without spaces/);
    expect(() => demoConfigFromEnv({ METRICS_TOKEN: 'metrics-tøken-0123456789' })).toThrow(/^METRICS_TOKEN must be visible ASCII/);
  });
});

describe('DemoMetrics', () => {
  it('writes the exposition with the exporter settings it was given', async () => {
    const metrics = new DemoMetrics({ prefix: 'acme', withoutTargetInfo: true });
    try {
      metrics.meterProvider.getMeter('test').createCounter('widgets').add(2);
      const { samples } = parseExposition(await metrics.scrape());
      expect(series(samples, 'target_info')).toEqual([]);
      expect(samples.map((s) => s.name)).toContain('acme_widgets_total');
      expect(total(samples, 'acme_widgets_total')).toBe(2);
    } finally {
      await metrics.shutdown();
    }
  });
});
