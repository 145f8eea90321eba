import 'reflect-metadata';
// METRIC_CATALOG's `attributes` against what the code records: real operations of every
// capability, then every series of the registry and every point the SDK exports must carry
// exactly the attribute names its catalogue entry lists. Each entry is either recorded here or
// named in NOT_RECORDED_HERE with the suite that records it.
import { Injectable } from '@nestjs/common';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import {
  CacheService, EventBus, IdempotencyService, LeaderService, LockService, RateLimitService, SessionService, StreamConsumer, StreamService,
  TaskHandler, TaskService, type StreamEntry,
} from '@nest-coordination/core';
import { SessionPruner } from '../../libs/coordination/src/sessions/session-pruner.js';
import { METRIC_CATALOG, catalogEntry, type MetricKind } from '../../libs/coordination/src/telemetry/metric-catalog.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS, type DriverCase } from '../support/drivers.js';
import { TestMeters } from '../support/otel-metrics.js';
import { until } from '../support/wait.js';

const WAIT = { timeoutMs: 15_000 };
const BY_NAME = new Map(METRIC_CATALOG.map((m) => [m.name, m]));

/** Recorded only on paths this tour does not take (faults, timers, contention), by the suites named. */
const NOT_RECORDED_HERE: Record<string, string> = {
  lock_lost_total: 'test/locks (a lock expiring under its holder)',
  lock_deadlock_total: 'test/locks (wait-for cycles)',
  lock_renewals_total: 'test/locks (watchdog renewals)',
  lock_renewal_failures_total: 'test/locks (renewals Redis does not answer)',
  ratelimit_timeouts_total: 'test/rate-limit (a silent Redis)',
  ratelimit_redis_unavailable_total: 'test/telemetry/metrics-rate-limit.spec.ts (Redis killed)',
  ratelimit_violations_dropped_total: 'test/rate-limit (violation buffer full)',
  ratelimit_alerts_total: 'test/rate-limit (alertThreshold crossed)',
  ratelimit_heartbeat_ticks_total: 'test/rate-limit (fleet heartbeat, Redis only)',
  ratelimit_throttler_hits_total: 'test/throttler/throttler-subpath.spec.ts (the @nestjs/throttler storage, a subpath the tour does not load)',
  cache_errors_total: 'test/cache (Redis unreachable)',
  cache_bus_malformed_total: 'test/cache (malformed bus messages)',
  cache_bus_subscribe_failed_total: 'test/cache (bus subscription failures)',
  sessions_expired_total: 'test/telemetry/metrics-sessions.spec.ts (expired members pruned)',
  sessions_limit_rejected_total: 'test/sessions (maxPerUser)',
  sessions_version_conflicts_total: 'test/sessions (concurrent saves)',
  sessions_errors_total: 'test/sessions (Redis unreachable, undecodable records)',
  events_publish_failed_total: 'test/events (publish failures)',
  events_emit_failed_total: 'test/events (emit failures)',
  events_decode_failed_total: 'test/events (undecodable messages)',
  events_handler_failed_total: 'test/events (a throwing @OnCoordinationEvent handler)',
  tasks_failed_total: 'test/contract/tasks (attempts exhausted)',
  tasks_retried_total: 'test/contract/tasks (a failed attempt retried)',
  idempotency_errors_total: 'test/idempotency (Redis unreachable)',
  leader_errors_total: 'test/leader (Redis unreachable)',
  singleton_job_runs_total: 'test/leader/singleton-jobs (needs @nestjs/schedule ticks)',
  singleton_job_skips_total: 'test/leader/singleton-jobs (needs @nestjs/schedule ticks)',
  redis_breaker_state: 'test/telemetry/metrics-connection.spec.ts (breaker transitions)',
  redis_reconnects_total: 'test/telemetry/metrics-connection.spec.ts (reconnects)',
  redis_breaker_opened_total: 'test/telemetry/metrics-connection.spec.ts (breaker openings)',
};

const TOUR_STREAM = 'tour-orders';

@Injectable()
class TourWorkers {
  readonly handled: string[] = [];

  @TaskHandler('tour.mail')
  mail(): string {
    return 'sent';
  }

  @StreamConsumer(TOUR_STREAM, { group: 'billing', tenant: 'acme', blockMs: 100, claimIdleMs: 1_000 })
  bill(entry: StreamEntry): void {
    this.handled.push(entry.id);
  }
}

/** Where a series' attribute names differ from its catalogue entry's; [] when they all match. */
function mismatches(series: Array<{ name: string; kind: MetricKind; attributes: string[] }>): string[] {
  return series.flatMap(({ name, kind, attributes }) => {
    const entry = catalogEntry(name, kind);
    const expected = [...(entry?.attributes ?? [])].sort();
    const actual = [...attributes].sort();
    return entry && expected.join() === actual.join() ? [] : [`${name} (${kind}): recorded {${actual.join()}}, catalogued ${entry ? `{${expected.join()}}` : 'nowhere'}`];
  });
}

describe.each(DRIVERS.filter((d) => d.name !== 'cluster'))('metric attributes on the $name driver', (driver: DriverCase) => {
  let otel: TestMeters;
  let booted: BootedModule;

  beforeEach(() => {
    otel = new TestMeters();
  });
  afterEach(async () => {
    await booted?.close();
    await otel.shutdown();
  });

  it('are exactly the catalogue entry’s, in the registry and in the export, for every metric a tour of the capabilities records', async () => {
    booted = await bootModule(
      { ...driver.options(), health: { pingIntervalMs: 0 }, rateLimit: { heartbeatIntervalMs: 0 }, telemetry: { meterProvider: otel.provider } },
      { providers: [TourWorkers] },
    );
    const tenant = { tenant: 'acme' };

    // Locks: an acquisition, then one that waits, is contended and times out.
    const locks = booted.get(LockService);
    const held = await locks.acquire('report', tenant);
    await expect(locks.acquire('report', { ...tenant, waitMs: 50 })).rejects.toThrow();
    await held.release();

    // Rate limits: allowed, denied, then answered by the deny cache.
    const limits = booted.get(RateLimitService);
    for (let i = 0; i < 3; i++) await limits.consume('ada', { name: 'api', limit: 1, windowMs: 60_000, ...tenant });

    // Cache: a miss and its loader, then a hit.
    const cache = booted.get(CacheService);
    await cache.getOrSet('plan', () => 'gold', tenant);
    await cache.get('plan', tenant);

    // Sessions (and the library events they publish): created, destroyed, counted by a pass.
    const sessions = booted.get(SessionService);
    await sessions.create('cy', {}, tenant);
    await sessions.destroy((await sessions.create('dee', {}, tenant)).id, tenant);
    await booted.get(SessionPruner).runOnce();

    // Events, durable streams, tasks, idempotency, leader election.
    await booted.get(EventBus).publish('tour.ping', { n: 1 }, tenant);
    await booted.get(StreamService).append(TOUR_STREAM, { n: 1 }, tenant);
    const workers = booted.get(TourWorkers);
    await until(() => workers.handled.length === 1, { ...WAIT, message: 'the stream entry to be handled' });
    const tasks = booted.get(TaskService);
    await tasks.waitFor((await tasks.enqueue('tour.mail', {}, tenant)).id, { ...tenant, timeoutMs: WAIT.timeoutMs });
    await booted.get(IdempotencyService).run('order-1', () => 'ok', tenant);
    const campaign = booted.get(LeaderService).campaign('sweeper', tenant);
    await until(() => booted.core.metrics.counter('leader_terms_total', { role: 'sweeper' }) === 1, { ...WAIT, message: 'a leadership term' });
    await campaign.resign();
    // Gauges refreshed in the background: the stream group's (every claimIdleMs / 2) and the queue depth (every 5 s).
    const gauges = () => new Set(booted.core.metrics.snapshot().gauges.map((g) => g.name));
    await until(() => ['streams_group_lag', 'streams_group_pending', 'tasks_depth'].every((g) => gauges().has(g)), { ...WAIT, message: 'the background gauges' });

    const snapshot = booted.core.metrics.snapshot();
    const recorded = [
      ...snapshot.counters.map((s) => ({ name: s.name, kind: 'counter' as const, attributes: Object.keys(s.labels) })),
      ...snapshot.gauges.map((s) => ({ name: s.name, kind: 'gauge' as const, attributes: Object.keys(s.labels) })),
      ...snapshot.histograms.map((s) => ({ name: s.name, kind: 'histogram' as const, attributes: Object.keys(s.labels) })),
    ];
    expect(mismatches(recorded)).toEqual([]);

    const exported = [...(await otel.collect()).values()].flatMap((metric) => {
      const entry = BY_NAME.get(metric.descriptor.name);
      const kind: MetricKind = metric.dataPointType === DataPointType.HISTOGRAM ? 'histogram' : metric.dataPointType === DataPointType.GAUGE ? 'gauge' : 'counter';
      return metric.dataPoints.map((p) => ({ name: entry?.registryName ?? metric.descriptor.name, kind, attributes: Object.keys(p.attributes) }));
    });
    expect(mismatches(exported)).toEqual([]);

    // Coverage: every entry is recorded here or named above, and nothing named above is recorded here.
    const names = new Set(recorded.map((r) => r.name));
    const memoryOnly = driver.name === 'memory' ? ['redis_command_ms'] : []; // the memory driver runs no command
    expect(METRIC_CATALOG.map((m) => m.registryName).filter((n) => !names.has(n) && !(n in NOT_RECORDED_HERE) && !memoryOnly.includes(n))).toEqual([]);
    expect(Object.keys(NOT_RECORDED_HERE).filter((n) => names.has(n) && snapshotValue(booted, n) > 0)).toEqual([]);
  });
});

/** The total of a counter's series (0 for a series bound at 0 but never counted). */
function snapshotValue(booted: BootedModule, name: string): number {
  return booted.core.metrics.snapshot().counters.filter((c) => c.name === name).reduce((sum, c) => sum + c.value, 0);
}
