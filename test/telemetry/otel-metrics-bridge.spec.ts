// OtelMetricsBridge on a bare MetricsRegistry and a real SDK: the tenant attribute policy, series
// folded together, attributes bound once per series, and what stop() leaves behind.
import { jest } from '@jest/globals';
import { MetricsRegistry } from '../../libs/coordination/src/metrics/metrics-registry.js';
import type { ResolvedTelemetryOptions } from '../../libs/coordination/src/options/resolve-options.js';
import { OtelMetricsBridge } from '../../libs/coordination/src/telemetry/otel-metrics.js';
import { MAX_ATTRIBUTE_VALUES, TenantAttributePolicy } from '../../libs/coordination/src/telemetry/tenant-attributes.js';
import { InvalidArgumentError } from '@nest-coordination/core';
import { TestMeters } from '../support/otel-metrics.js';

const DEFAULTS: ResolvedTelemetryOptions = { metrics: true, traces: true, hashKeys: false, tenantAttribute: 'all', maxTenantValues: 100 };

describe('OtelMetricsBridge', () => {
  let otel: TestMeters;
  const bridges: OtelMetricsBridge[] = [];

  beforeEach(() => {
    otel = new TestMeters();
  });
  afterEach(async () => {
    for (const b of bridges.splice(0)) b.stop();
    await otel.shutdown();
  });

  function bridged(options: Partial<ResolvedTelemetryOptions> = {}, registry = new MetricsRegistry()): MetricsRegistry {
    const bridge = new OtelMetricsBridge({ ...DEFAULTS, meterProvider: otel.provider, ...options }, registry);
    bridge.start();
    bridges.push(bridge);
    return registry;
  }

  const tenantsOf = async (name: string) => (await otel.points(name)).map((p) => [p.attributes.tenant, typeof p.value === 'number' ? p.value : p.value.count]);

  describe("tenantAttribute 'all'", () => {
    it('keeps the first maxTenantValues tenants and exports later ones as _other, for every kind', async () => {
      const metrics = bridged({ maxTenantValues: 2 });
      for (const tenant of ['acme', 'globex', 'initech', 'umbrella']) {
        metrics.increment('tasks_enqueued_total', { task: 'mail', tenant });
        metrics.observe('tasks_run_ms', 5, { task: 'mail', tenant });
        metrics.setGauge('tasks_depth', 1, { task: 'mail', tenant });
      }
      // acme keeps its slot in a new series; _shared needs none.
      metrics.increment('tasks_enqueued_total', { task: 'report', tenant: 'acme' });
      metrics.increment('tasks_enqueued_total', { task: 'report', tenant: '_shared' });

      expect(await tenantsOf('coordination.tasks.enqueued')).toEqual(
        expect.arrayContaining([['acme', 1], ['globex', 1], ['_other', 2], ['acme', 1], ['_shared', 1]]),
      );
      expect(await otel.points('coordination.tasks.enqueued')).toHaveLength(5);
      expect(await otel.sum('coordination.tasks.enqueued', { task: 'mail', tenant: '_other' })).toBe(2);
      expect(await tenantsOf('coordination.tasks.run.duration')).toEqual(expect.arrayContaining([['acme', 1], ['globex', 1], ['_other', 2]]));
      expect(await otel.points('coordination.tasks.run.duration')).toHaveLength(3);
      expect(await otel.sum('coordination.tasks.depth', { tenant: '_other' })).toBe(2);
    });

    it('shares the tenant budget between the modules on one provider', async () => {
      const a = bridged({ maxTenantValues: 1 });
      const b = bridged({ maxTenantValues: 1 });
      a.increment('ratelimit_alerts_total', { tenant: 'acme' });
      b.increment('ratelimit_alerts_total', { tenant: 'globex' });
      b.increment('ratelimit_alerts_total', { tenant: 'acme' });
      expect(await otel.sum('coordination.ratelimit.alerts', { tenant: 'acme' })).toBe(2);
      expect(await otel.sum('coordination.ratelimit.alerts', { tenant: '_other' })).toBe(1);
    });
  });

  it("drops the attribute with tenantAttribute 'none', adding up the series of every tenant", async () => {
    const metrics = bridged({ tenantAttribute: 'none' });
    metrics.increment('tasks_enqueued_total', { task: 'mail', tenant: 'acme' }, 2);
    metrics.increment('tasks_enqueued_total', { task: 'mail', tenant: 'globex' }, 3);
    metrics.setGauge('streams_group_lag', 4, { stream: 'orders', group: 'billing', tenant: 'acme' });
    metrics.setGauge('streams_group_lag', 6, { stream: 'orders', group: 'billing', tenant: 'globex' });
    metrics.observe('tasks_wait_ms', 1, { task: 'mail', tenant: 'acme' });
    metrics.observe('tasks_wait_ms', 2, { task: 'mail', tenant: 'globex' });

    expect(await otel.points('coordination.tasks.enqueued')).toEqual([{ attributes: { task: 'mail' }, value: 5 }]);
    expect(await otel.points('coordination.streams.group.lag')).toEqual([{ attributes: { stream: 'orders', group: 'billing' }, value: 10 }]);
    const [wait] = await otel.points('coordination.tasks.wait.duration');
    expect(wait.attributes).toEqual({ task: 'mail' });
    expect(wait.value).toMatchObject({ count: 2, sum: 3 });
  });

  it('keeps the listed tenants with a tenant list and exports the others as _other', async () => {
    const metrics = bridged({ tenantAttribute: ['acme'] });
    for (const tenant of ['acme', 'globex', 'initech']) metrics.increment('ratelimit_violations_dropped_total', { tenant });
    expect(await tenantsOf('coordination.ratelimit.violations.dropped')).toEqual(expect.arrayContaining([['acme', 1], ['_other', 2]]));
    expect(await otel.points('coordination.ratelimit.violations.dropped')).toHaveLength(2);
  });

  it('computes the attributes of a series once, not per observation', async () => {
    const attributes = jest.spyOn(TenantAttributePolicy.prototype, 'attributes');
    try {
      const metrics = bridged();
      const handle = metrics.histogramOf('tasks_run_ms', { task: 'mail', tenant: 'acme' });
      for (let i = 0; i < 50; i++) handle.observe(i);
      for (let i = 0; i < 50; i++) metrics.observe('tasks_run_ms', i, { task: 'mail', tenant: 'acme' });
      for (let i = 0; i < 50; i++) metrics.increment('tasks_enqueued_total', { task: 'mail', tenant: 'acme' });
      for (let i = 0; i < 3; i++) await otel.collect();
      expect(attributes).toHaveBeenCalledTimes(2);
      expect(await otel.sum('coordination.tasks.run.duration')).toBe(100);
      expect(await otel.sum('coordination.tasks.enqueued')).toBe(50);
    } finally {
      attributes.mockRestore();
    }
  });

  it('exports series that existed before it started', async () => {
    const registry = new MetricsRegistry();
    registry.increment('cache_misses_total', {}, 4);
    const loader = registry.histogramOf('cache_loader_ms');
    loader.observe(3);
    bridged({}, registry);
    loader.observe(7);
    expect(await otel.sum('coordination.cache.misses')).toBe(4);
    // Observations before start() stay in the registry only: the OTel histogram starts empty.
    expect(await otel.sum('coordination.cache.loader.duration')).toBe(1);
  });

  it('stops forwarding and observing at stop(), and keeps the stopped registry’s final counts in the totals', async () => {
    const a = bridged();
    const b = bridged();
    a.increment('cache_misses_total', {}, 2);
    b.increment('cache_misses_total', {}, 3);
    a.observe('cache_loader_ms', 1);
    expect(await otel.sum('coordination.cache.misses')).toBe(5);

    bridges[0].stop();
    a.increment('cache_misses_total', {}, 10);
    a.observe('cache_loader_ms', 1);
    b.increment('cache_misses_total');
    expect(await otel.sum('coordination.cache.misses')).toBe(6);
    expect(await otel.sum('coordination.cache.loader.duration')).toBe(1);
    // A stopped bridge does not start again (its final counts are already in the totals).
    bridges[0].start();
    expect(await otel.sum('coordination.cache.misses')).toBe(6);
  });

  describe('gauges whose series went away', () => {
    it('export 0 once removed from the registry, not their last value', async () => {
      const metrics = bridged();
      metrics.setGauge('sessions_active', 4, { tenant: 'acme' });
      metrics.setGauge('streams_group_lag', 9, { stream: 'orders', group: 'billing', tenant: 'acme' });
      expect(await otel.points('coordination.sessions.active')).toEqual([{ attributes: { tenant: 'acme' }, value: 4 }]);

      metrics.removeGauge('sessions_active', { tenant: 'acme' });
      metrics.removeGauge('streams_group_lag', { stream: 'orders', group: 'billing', tenant: 'acme' });
      expect(await otel.points('coordination.sessions.active')).toEqual([{ attributes: { tenant: 'acme' }, value: 0 }]);
      expect(await otel.points('coordination.streams.group.lag')).toEqual([{ attributes: { stream: 'orders', group: 'billing', tenant: 'acme' }, value: 0 }]);
      // Set again: the level is back.
      metrics.setGauge('sessions_active', 2, { tenant: 'acme' });
      expect(await otel.points('coordination.sessions.active')).toEqual([{ attributes: { tenant: 'acme' }, value: 2 }]);
    });

    it('export 0 once their registry stopped, while the other registries go on', async () => {
      const a = bridged();
      const b = bridged();
      a.setGauge('tasks_depth', 2, { task: 'mail', tenant: 'globex' });
      a.setGauge('redis_breaker_state', 2);
      b.setGauge('tasks_depth', 3, { task: 'mail', tenant: 'acme' });
      expect(await tenantsOf('coordination.tasks.depth')).toEqual(expect.arrayContaining([['globex', 2], ['acme', 3]]));

      bridges[0].stop();
      expect(await tenantsOf('coordination.tasks.depth')).toEqual(expect.arrayContaining([['globex', 0], ['acme', 3]]));
      expect(await otel.points('coordination.redis.breaker.state')).toEqual([{ attributes: {}, value: 0 }]);
      bridges[1].stop();
      // The last registry stopped: the provider still answers collections, with zeros.
      expect(await tenantsOf('coordination.tasks.depth')).toEqual(expect.arrayContaining([['globex', 0], ['acme', 0]]));
    });
  });

  it('keeps counting what the last registry counted after the last collection, once it stopped', async () => {
    const metrics = bridged();
    metrics.increment('cache_misses_total', {}, 5);
    expect(await otel.sum('coordination.cache.misses')).toBe(5);
    metrics.increment('cache_misses_total', {}, 3);
    bridges[0].stop();
    // A final flush (provider shutdown) after the module stopped still reads the final count.
    expect(await otel.sum('coordination.cache.misses')).toBe(8);
  });

  it('combines the gauges of several registries by the catalogue aggregation: max for states and fleet-wide levels, sum for per-process ones', async () => {
    const a = bridged();
    const b = bridged();
    a.setGauge('redis_breaker_state', 2);
    b.setGauge('redis_breaker_state', 2);
    a.setGauge('tasks_depth', 4, { task: 'mail', tenant: 'acme' });
    b.setGauge('tasks_depth', 4, { task: 'mail', tenant: 'acme' });
    a.setGauge('tasks_active', 1, { task: 'mail', tenant: 'acme' });
    b.setGauge('tasks_active', 2, { task: 'mail', tenant: 'acme' });
    expect(await otel.points('coordination.redis.breaker.state')).toEqual([{ attributes: {}, value: 2 }]);
    expect(await otel.sum('coordination.tasks.depth')).toBe(4);
    expect(await otel.sum('coordination.tasks.active')).toBe(3);
    b.setGauge('redis_breaker_state', 1);
    a.setGauge('redis_breaker_state', 0);
    expect(await otel.points('coordination.redis.breaker.state')).toEqual([{ attributes: {}, value: 1 }]);
  });

  describe('attribute values other than the tenant', () => {
    it(`keep the first ${MAX_ATTRIBUTE_VALUES} distinct values per metric and attribute; later ones export as _other`, async () => {
      const metrics = bridged();
      for (let i = 0; i < MAX_ATTRIBUTE_VALUES + 5; i++) metrics.increment('streams_delivered_total', { stream: `s${i}`, group: 'billing' });
      metrics.increment('streams_delivered_total', { stream: 's0', group: 'audit' });
      const points = await otel.points('coordination.streams.delivered');
      expect(points).toHaveLength(MAX_ATTRIBUTE_VALUES + 2);
      expect(await otel.sum('coordination.streams.delivered', { stream: '_other', group: 'billing' })).toBe(5);
      expect(await otel.sum('coordination.streams.delivered', { stream: 's0' })).toBe(2);
      // Each metric has its own budget.
      metrics.increment('streams_acked_total', { stream: `s${MAX_ATTRIBUTE_VALUES + 1}`, group: 'billing' });
      expect(await otel.sum('coordination.streams.acked', { stream: `s${MAX_ATTRIBUTE_VALUES + 1}` })).toBe(1);
    });
  });

  it('gives sessions_active (every tenant of the keyspace) a tenant budget of its own, taking no slot from the others', async () => {
    const metrics = bridged({ maxTenantValues: 1 });
    metrics.setGauge('sessions_active', 5, { tenant: 'acme' });
    metrics.setGauge('sessions_active', 7, { tenant: 'globex' });
    metrics.setGauge('sessions_active', 1, { tenant: 'initech' });
    expect(await tenantsOf('coordination.sessions.active')).toEqual(expect.arrayContaining([['acme', 5], ['_other', 8]]));

    // acme's slot is still free for the tenants this process serves.
    metrics.increment('tasks_enqueued_total', { task: 'mail', tenant: 'globex' });
    metrics.increment('tasks_enqueued_total', { task: 'mail', tenant: 'acme' });
    expect(await tenantsOf('coordination.tasks.enqueued')).toEqual(expect.arrayContaining([['globex', 1], ['_other', 1]]));
    // A tenant holding a slot keeps its value in sessions_active too, from the next collection.
    expect(await tenantsOf('coordination.sessions.active')).toEqual(expect.arrayContaining([['acme', 5], ['globex', 7], ['_other', 1]]));
    expect(await otel.points('coordination.sessions.active')).toHaveLength(3);
  });

  it('refuses a second exporter on one registry, naming the listener', () => {
    const registry = bridged();
    expect(() => registry.attach({ counterOrGauge: () => {}, histogram: () => undefined })).toThrow(InvalidArgumentError);
    expect(() => registry.attach({ counterOrGauge: () => {}, histogram: () => undefined })).toThrow(/"listener"/);
  });
});
