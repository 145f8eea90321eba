import 'reflect-metadata';
// The library's metrics as an OpenTelemetry SDK sees them, while real operations run on the
// memory driver and on Redis: names, units, descriptions and attributes of METRIC_CATALOG.
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { metrics } from '@opentelemetry/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { CacheService, LockService, RateLimitService, type CoordinationModuleOptions } from '@nest-coordination/core';
import { DEFAULT_BUCKETS_MS } from '../../libs/coordination/src/metrics/metrics-registry.js';
import { METRIC_CATALOG } from '../../libs/coordination/src/telemetry/metric-catalog.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS, type DriverCase } from '../support/drivers.js';
import { TestMeters } from '../support/otel-metrics.js';

const CATALOG = new Map(METRIC_CATALOG.map((m) => [m.name, m]));
const TWO_A_MINUTE = { limit: 2, windowMs: 60_000 };
const TEST_DRIVERS = DRIVERS.filter((d) => d.name !== 'cluster');

/** Every metric the SDK holds carries the catalogue's kind, unit, description and exactly its attribute names. */
function expectCatalogued(collected: Map<string, MetricData>): void {
  expect(collected.size).toBeGreaterThan(0);
  for (const [name, metric] of collected) {
    const entry = CATALOG.get(name);
    expect({ name, catalogued: entry !== undefined }).toEqual({ name, catalogued: true });
    const kind = metric.dataPointType === DataPointType.HISTOGRAM ? 'histogram' : metric.dataPointType === DataPointType.GAUGE ? 'gauge' : 'counter';
    expect({ name, kind, unit: metric.descriptor.unit, description: metric.descriptor.description }).toEqual({
      name, kind: entry!.kind, unit: entry!.unit, description: entry!.description,
    });
    for (const point of metric.dataPoints) expect({ name, attributes: Object.keys(point.attributes).sort() }).toEqual({ name, attributes: [...entry!.attributes].sort() });
  }
}

describe.each(TEST_DRIVERS)('OpenTelemetry metrics on the $name driver', (driver: DriverCase) => {
  let otel: TestMeters;
  let booted: BootedModule;
  let open: BootedModule | undefined;

  const boot = async (telemetry: CoordinationModuleOptions['telemetry'] = {}) =>
    (open = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 }, telemetry: { meterProvider: otel.provider, ...telemetry } }));

  beforeEach(() => {
    otel = new TestMeters();
  });
  afterEach(async () => {
    await open?.close();
    open = undefined;
    await otel.shutdown();
  });

  it('exports lock acquisitions, contention and timeouts as they happen', async () => {
    booted = await boot();
    const locks = booted.get(LockService);
    expect(await otel.sum('coordination.lock.acquire.duration', { kind: 'mutex' })).toBe(0);

    const lock = await locks.acquire('report', { tenant: 'acme' });
    expect(await otel.sum('coordination.lock.acquire.duration', { kind: 'mutex' })).toBe(1);
    expect(await otel.sum('coordination.lock.contended')).toBe(0);

    // Held: a second attempt waits, is counted as contended, times out and observes its wait.
    await expect(locks.acquire('report', { tenant: 'acme', waitMs: 50 })).rejects.toThrow();
    expect(await otel.sum('coordination.lock.contended', { kind: 'mutex' })).toBe(1);
    expect(await otel.sum('coordination.lock.timeout', { kind: 'mutex' })).toBe(1);
    expect(await otel.sum('coordination.lock.wait.duration', { kind: 'mutex' })).toBe(1);

    await lock.release();
    await (await locks.acquire('report', { tenant: 'acme' })).release();
    expect(await otel.sum('coordination.lock.acquire.duration', { kind: 'mutex' })).toBe(2);
    expectCatalogued(await otel.collect());
  });

  it('exports the acquire latency histogram with the registry buckets', async () => {
    booted = await boot();
    await (await booted.get(LockService).acquire('report', { tenant: 'acme' })).release();
    const [point] = await otel.points('coordination.lock.acquire.duration');
    expect(typeof point.value).toBe('object');
    const histogram = point.value as Exclude<typeof point.value, number>;
    expect(histogram.buckets.boundaries).toEqual(DEFAULT_BUCKETS_MS.filter(Number.isFinite));
    expect(histogram.count).toBe(1);
    expect(histogram.sum).toBeGreaterThanOrEqual(0);
  });

  it('exports rate-limit decisions, allowed and denied, by policy and source', async () => {
    booted = await boot();
    const limits = booted.get(RateLimitService);
    const source = driver.name === 'memory' ? 'memory' : 'redis';
    for (let i = 0; i < 3; i++) await limits.consume('export', { ...TWO_A_MINUTE, name: 'exports', tenant: 'acme' });

    expect(await otel.sum('coordination.ratelimit.allowed', { source })).toBe(2);
    expect(await otel.sum('coordination.ratelimit.denied', { policy: 'exports', source })).toBe(1);
    expect(await otel.sum('coordination.ratelimit.checks', { outcome: 'allowed', source })).toBe(2);
    expect(await otel.sum('coordination.ratelimit.checks', { outcome: 'denied', source })).toBe(1);
    await limits.consume('export', { ...TWO_A_MINUTE, name: 'exports', tenant: 'acme' });
    expect(await otel.sum('coordination.ratelimit.denied')).toBe(2);
    expect(await otel.sum('coordination.ratelimit.checks', { outcome: 'denied' })).toBe(2);
    expectCatalogued(await otel.collect());
  });

  it('exports cache misses, loader calls and durations, and hits', async () => {
    booted = await boot();
    const cache = booted.get(CacheService);
    expect(await cache.getOrSet('plan', () => 'gold', { tenant: 'acme' })).toBe('gold');
    expect(await otel.sum('coordination.cache.misses')).toBe(1);
    expect(await otel.sum('coordination.cache.loader.calls')).toBe(1);
    expect(await otel.sum('coordination.cache.loader.duration')).toBe(1);
    expect(await otel.sum('coordination.cache.hits')).toBe(0);

    expect(await cache.get('plan', { tenant: 'acme' })).toBe('gold');
    expect(await otel.sum('coordination.cache.hits')).toBe(1);
    expect(await otel.sum('coordination.cache.misses')).toBe(1);
    expectCatalogued(await otel.collect());
  });

  it('exports nothing with telemetry.metrics off', async () => {
    booted = await boot({ metrics: false });
    await (await booted.get(LockService).acquire('report', { tenant: 'acme' })).release();
    await booted.get(RateLimitService).consume('export', { ...TWO_A_MINUTE, tenant: 'acme' });
    expect((await otel.collect()).size).toBe(0);
  });

  it('reports nothing more once the module is closed: its counters keep their final values, its gauges read 0', async () => {
    booted = await boot();
    await booted.get(RateLimitService).consume('export', { ...TWO_A_MINUTE, tenant: 'acme' });
    await (await booted.get(LockService).acquire('report', { tenant: 'acme' })).release();
    booted.core.metrics.setGauge('tasks_depth', 3, { task: 'mail', tenant: 'acme' });
    expect(await otel.sum('coordination.ratelimit.allowed')).toBe(1);
    expect(await otel.points('coordination.tasks.depth')).toEqual([{ attributes: { task: 'mail', tenant: 'acme' }, value: 3 }]);
    // Counted after that collection: still in the totals once the module closed.
    await booted.get(RateLimitService).consume('export', { ...TWO_A_MINUTE, tenant: 'acme' });
    const { core } = booted;
    await booted.close();
    open = undefined;

    // What its registry still records is not exported.
    core.metrics.increment('ratelimit_allowed_total', { policy: '2-per-60000ms', source: 'redis' }, 5);
    core.metrics.increment('ratelimit_allowed_total', { policy: '2-per-60000ms', source: 'memory' }, 5);
    core.metrics.observe('lock_acquire_ms', 1, { kind: 'mutex' });
    core.metrics.setGauge('tasks_depth', 9, { task: 'mail', tenant: 'acme' });
    expect(await otel.sum('coordination.ratelimit.allowed')).toBe(2);
    expect(await otel.sum('coordination.lock.acquire.duration')).toBe(1);
    // Not its last level: a closed module's queue is nobody's to report.
    expect(await otel.points('coordination.tasks.depth')).toEqual([{ attributes: { task: 'mail', tenant: 'acme' }, value: 0 }]);
  });
});

describe('several modules on one meter provider', () => {
  let otel: TestMeters;
  const booted: BootedModule[] = [];

  beforeEach(() => {
    otel = new TestMeters();
  });
  afterEach(async () => {
    for (const b of booted.splice(0)) await b.close();
    await otel.shutdown();
  });

  const boot = async () => {
    const b = await bootModule({ driver: 'memory', health: { pingIntervalMs: 0 }, telemetry: { meterProvider: otel.provider } });
    booted.push(b);
    return b;
  };

  it('add up, stay stable across collections, keep a closed module’s counts in the totals and zero its gauges', async () => {
    const [a, b] = [await boot(), await boot()];
    const consume = (m: BootedModule, n: number) =>
      Promise.all(Array.from({ length: n }, (_, i) => m.get(RateLimitService).consume(`k${i}`, { ...TWO_A_MINUTE, tenant: 'acme' })));
    await consume(a, 2);
    await consume(b, 3);
    await (await a.get(LockService).acquire('x', { tenant: 'acme' })).release();
    await (await b.get(LockService).acquire('x', { tenant: 'acme' })).release();

    // Collected repeatedly: two callbacks reporting one series would overwrite each other and read as resets.
    for (let i = 0; i < 3; i++) {
      expect(await otel.sum('coordination.ratelimit.allowed', { source: 'memory' })).toBe(5);
      expect(await otel.sum('coordination.lock.acquire.duration')).toBe(2);
    }
    // A tenant per module: a stale series of the closed one would show as its own point.
    a.core.metrics.setGauge('tasks_depth', 2, { task: 'mail', tenant: 'globex' });
    b.core.metrics.setGauge('tasks_depth', 3, { task: 'mail', tenant: 'acme' });
    const depths = async () => Object.fromEntries((await otel.points('coordination.tasks.depth')).map((p) => [p.attributes.tenant, p.value]));
    expect(await depths()).toEqual({ globex: 2, acme: 3 });

    await a.close();
    booted.splice(booted.indexOf(a), 1);
    await consume(b, 1);
    a.core.metrics.increment('ratelimit_allowed_total', { policy: '2-per-60000ms', source: 'memory' }, 100);
    expect(await otel.sum('coordination.ratelimit.allowed', { source: 'memory' })).toBe(6);
    expect(await depths()).toEqual({ globex: 0, acme: 3 });

    // A module booted later on the same provider counts on from there.
    const c = await boot();
    await consume(c, 1);
    expect(await otel.sum('coordination.ratelimit.allowed', { source: 'memory' })).toBe(7);
  });
});

describe('the global meter provider', () => {
  let booted: BootedModule | undefined;

  afterEach(async () => {
    await booted?.close();
    booted = undefined;
    metrics.disable();
  });

  it('is a no-op without an SDK: operations work and nothing is attached to the registry', async () => {
    booted = await bootModule({ driver: 'memory', health: { pingIntervalMs: 0 } });
    await (await booted.get(LockService).acquire('report', { tenant: 'acme' })).release();
    expect(booted.core.metrics.snapshot().histograms.find((h) => h.name === 'lock_acquire_ms')?.count).toBe(1);
    // Free to attach: the bridge attached nothing, so the hot path has no sink to call.
    const detach = booted.core.metrics.attach({ counterOrGauge: () => {}, histogram: () => undefined });
    detach();
  });

  it('is used when the application registered an SDK before the module started', async () => {
    const otel = new TestMeters();
    metrics.setGlobalMeterProvider(otel.provider);
    try {
      booted = await bootModule({ driver: 'memory', health: { pingIntervalMs: 0 } });
      await (await booted.get(LockService).acquire('report', { tenant: 'acme' })).release();
      expect(await otel.sum('coordination.lock.acquire.duration', { kind: 'mutex' })).toBe(1);
      const { resourceMetrics } = await otel.reader.collect();
      const scopes = resourceMetrics.scopeMetrics.map((s) => s.scope);
      expect(scopes).toEqual([expect.objectContaining({ name: '@nest-coordination/core', version: expect.stringMatching(/^\d+\.\d+\.\d+/) })]);
    } finally {
      await booted?.close();
      booted = undefined;
      await otel.shutdown();
    }
  });
});

describe('Prometheus names', () => {
  it('are the OTel names with dots as underscores, counters ending in _total, histograms in _bucket/_sum/_count', async () => {
    const otel = new TestMeters();
    const booted = await bootModule({ driver: 'memory', health: { pingIntervalMs: 0 }, telemetry: { meterProvider: otel.provider } });
    try {
      await (await booted.get(LockService).acquire('report', { tenant: 'acme' })).release();
      await booted.get(RateLimitService).consume('export', { ...TWO_A_MINUTE, tenant: 'acme' });
      const { resourceMetrics } = await otel.reader.collect();
      const text = new PrometheusSerializer('', false).serialize(resourceMetrics);
      expect(text).toMatch(/^coordination_ratelimit_allowed_total\{[^}]*source="memory"[^}]*\} 1$/m);
      expect(text).toMatch(/^# TYPE coordination_lock_acquire_duration histogram$/m);
      expect(text).toMatch(/^coordination_lock_acquire_duration_bucket\{[^}]*kind="mutex"[^}]*le="0.1"[^}]*\} /m);
      expect(text).toMatch(/^coordination_ratelimit_checks_total\{[^}]*outcome="allowed"[^}]*source="memory"[^}]*\} 1$/m);
      expect(text).toMatch(/^coordination_lock_acquire_duration_count\{[^}]*\} 1$/m);
      expect(text).toMatch(/^# UNIT coordination_lock_acquire_duration ms$/m);
    } finally {
      await booted.close();
      await otel.shutdown();
    }
  });
});

describe('a registry metric missing from the catalogue', () => {
  it('is exported under the derived name, with one warning', async () => {
    const otel = new TestMeters();
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const booted = await bootModule({ driver: 'memory', health: { pingIntervalMs: 0 }, telemetry: { meterProvider: otel.provider } });
    try {
      booted.core.metrics.increment('mystery_widgets_total', { color: 'red' });
      booted.core.metrics.increment('mystery_widgets_total', { color: 'blue' }, 2);
      booted.core.metrics.observe('mystery_wait_ms', 4);
      expect(await otel.sum('coordination.mystery.widgets', { color: 'blue' })).toBe(2);
      expect(await otel.sum('coordination.mystery.widgets')).toBe(3);
      expect(await otel.sum('coordination.mystery.wait.duration')).toBe(1);
      const warnings = warn.mock.calls.map(([message]) => String(message)).filter((m) => m.includes('mystery_'));
      expect(warnings).toEqual([
        expect.stringContaining('"mystery_widgets_total" (counter) is not in the metric catalogue: exported as "coordination.mystery.widgets"'),
        expect.stringContaining('"mystery_wait_ms" (histogram) is not in the metric catalogue: exported as "coordination.mystery.wait.duration" with unit "ms"'),
      ]);
    } finally {
      warn.mockRestore();
      await booted.close();
      await otel.shutdown();
    }
  });
});
