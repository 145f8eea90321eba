/**
 * How an OpenTelemetry instrument aggregates a registry metric: `counter` (an observable
 * counter, cumulative), `gauge` (an observable gauge, the last level) or `histogram`.
 *
 * @example
 * const kindOf = (name: string): MetricKind | undefined => METRIC_CATALOG.find((m) => m.name === name)?.kind;
 * kindOf('coordination.tasks.depth'); // 'gauge'
 */
export type MetricKind = 'counter' | 'gauge' | 'histogram';

/**
 * How the series of one gauge reported by several module instances on one meter provider
 * combine: `sum` for a level of each process (`tasks_active`), `max` for a state (the breaker)
 * or a fleet-wide level every instance reads from Redis (`tasks_depth`, stream lag), which
 * adding up would count once per instance.
 *
 * @example
 * const depth = METRIC_CATALOG.find((m) => m.name === 'coordination.tasks.depth');
 * const aggregation: GaugeAggregation | undefined = depth?.aggregation; // 'max': PromQL `max by (task, tenant)`
 */
export type GaugeAggregation = 'sum' | 'max';

/**
 * One metric the library records, as the OpenTelemetry bridge exports it.
 *
 * Naming convention (stable; README "Metrics"): the OTel name is `coordination.` followed by the
 * registry name with `_` turned into `.`, after dropping a counter's `_total` suffix and turning a
 * histogram's `_ms` suffix into `.duration` (unit `ms`). So `lock_wait_ms` is
 * `coordination.lock.wait.duration` and `cache_hits_total` is `coordination.cache.hits`; a
 * Prometheus exporter turns them back into `coordination_lock_wait_duration` and
 * `coordination_cache_hits_total`. Units are UCUM: `ms`, or a `{thing}` annotation for counts.
 *
 * @example
 * const entry: MetricDefinition = {
 *   registryName: 'lock_wait_ms', name: 'coordination.lock.wait.duration', kind: 'histogram', unit: 'ms',
 *   description: 'Time spent waiting for a held lock', attributes: ['kind'],
 * };
 * const gauge: MetricDefinition = {
 *   registryName: 'tasks_depth', name: 'coordination.tasks.depth', kind: 'gauge', unit: '{task}',
 *   description: 'Tasks waiting in the queue', attributes: ['task', 'tenant'], aggregation: 'max',
 * };
 */
export interface MetricDefinition {
  /** The name capabilities record it under in MetricsRegistry (`lock_wait_ms`). */
  readonly registryName: string;
  /** The OpenTelemetry instrument name (`coordination.lock.wait.duration`). */
  readonly name: string;
  readonly kind: MetricKind;
  /** UCUM unit: `ms`, `1`, or an annotation such as `{acquisition}`. */
  readonly unit: string;
  readonly description: string;
  /** Names of the attributes (registry labels) its series carry. */
  readonly attributes: readonly string[];
  /** Gauges only: how the series of several module instances on one meter provider combine. */
  readonly aggregation?: GaugeAggregation;
  /**
   * `'scanned'`: its series name every tenant of the keyspace (a background scan), not the
   * tenants this process served, so they take no tenant slot (see `telemetry.maxTenantValues`):
   * they keep a tenant that holds one, and otherwise draw on a budget of this metric's own.
   */
  readonly tenants?: 'scanned';
}

/**
 * Every metric the library records. A plain list: a new metric is one more entry (the
 * metric-catalog spec checks that every name recorded in the source is here, and back).
 *
 * @example
 * for (const m of METRIC_CATALOG) console.log(m.name, m.unit, m.description);
 */
export const METRIC_CATALOG: readonly MetricDefinition[] = [
  // --- locks
  { registryName: 'lock_acquire_ms', name: 'coordination.lock.acquire.duration', kind: 'histogram', unit: 'ms', description: 'Duration of lock acquire calls that obtained the lock, waiting included; its count is the number of acquisitions', attributes: ['kind'] },
  { registryName: 'lock_wait_ms', name: 'coordination.lock.wait.duration', kind: 'histogram', unit: 'ms', description: 'Time spent waiting for a held lock, by acquisitions that had to wait and by attempts that timed out', attributes: ['kind'] },
  { registryName: 'lock_contended_total', name: 'coordination.lock.contended', kind: 'counter', unit: '{attempt}', description: 'Lock acquire attempts that found the lock held', attributes: ['kind'] },
  { registryName: 'lock_timeout_total', name: 'coordination.lock.timeout', kind: 'counter', unit: '{attempt}', description: 'Lock acquire attempts that gave up after waitTimeoutMs', attributes: ['kind'] },
  { registryName: 'lock_lost_total', name: 'coordination.lock.lost', kind: 'counter', unit: '{lock}', description: 'Held locks lost before release (expired, taken over, renewal failed)', attributes: ['kind'] },
  { registryName: 'lock_deadlock_total', name: 'coordination.lock.deadlock', kind: 'counter', unit: '{attempt}', description: 'Lock acquire attempts refused because waiting would close a wait-for cycle', attributes: ['kind'] },
  { registryName: 'lock_renewals_total', name: 'coordination.lock.renewals', kind: 'counter', unit: '{renewal}', description: 'Automatic renewals (watchdog extensions) of held locks', attributes: ['kind'] },
  { registryName: 'lock_renewal_failures_total', name: 'coordination.lock.renewal.failures', kind: 'counter', unit: '{renewal}', description: 'Automatic lock renewals Redis did not answer (retried while the lock may still be held, then it is lost)', attributes: ['kind'] },

  // --- rate limits
  { registryName: 'ratelimit_checks_total', name: 'coordination.ratelimit.checks', kind: 'counter', unit: '{check}', description: 'Consuming rate-limit checks, once each, by outcome (allowed, denied) and deciding source', attributes: ['outcome', 'source'] },
  { registryName: 'ratelimit_allowed_total', name: 'coordination.ratelimit.allowed', kind: 'counter', unit: '{decision}', description: 'Allowed consuming rate-limit checks, once per policy they include, by policy and deciding source (local: the fallback limiter)', attributes: ['policy', 'source'] },
  { registryName: 'ratelimit_denied_total', name: 'coordination.ratelimit.denied', kind: 'counter', unit: '{decision}', description: 'Denied consuming rate-limit checks, once each, by violated policy and deciding source', attributes: ['policy', 'source'] },
  { registryName: 'ratelimit_timeouts_total', name: 'coordination.ratelimit.timeouts', kind: 'counter', unit: '{check}', description: 'Rate-limit checks Redis did not answer within rateLimit.timeoutMs', attributes: [] },
  { registryName: 'ratelimit_redis_unavailable_total', name: 'coordination.ratelimit.redis.unavailable', kind: 'counter', unit: '{check}', description: 'Rate-limit checks answered by the onRedisUnavailable policy (local limiter or fail-closed) because Redis was unreachable, by mode (local, fail-closed)', attributes: ['mode'] },
  { registryName: 'ratelimit_violations_dropped_total', name: 'coordination.ratelimit.violations.dropped', kind: 'counter', unit: '{violation}', description: 'Rate-limit violations not recorded (buffer full or store write failed)', attributes: ['tenant'] },
  { registryName: 'ratelimit_alerts_total', name: 'coordination.ratelimit.alerts', kind: 'counter', unit: '{alert}', description: 'Rate-limit alerts raised (violations of one key crossed alertThreshold within alertWindowMs)', attributes: ['tenant'] },
  { registryName: 'ratelimit_throttler_hits_total', name: 'coordination.ratelimit.throttler.hits', kind: 'counter', unit: '{hit}', description: 'Hits decided by the @nestjs/throttler storage (CoordinationThrottlerStorage), by throttler name, outcome (allowed, blocked) and deciding source (redis, memory, local, fail-closed)', attributes: ['throttler', 'outcome', 'source'] },
  { registryName: 'ratelimit_heartbeat_ticks_total', name: 'coordination.ratelimit.heartbeat.ticks', kind: 'counter', unit: '{tick}', description: 'Fleet heartbeats of this instance (sizes the local fallback limiter)', attributes: [] },

  // --- cache
  { registryName: 'cache_hits_total', name: 'coordination.cache.hits', kind: 'counter', unit: '{hit}', description: 'Cache reads answered from a layer: l1 (process memory), l2 (Redis), stale (served within the grace period)', attributes: ['layer'] },
  { registryName: 'cache_misses_total', name: 'coordination.cache.misses', kind: 'counter', unit: '{miss}', description: 'Cache reads that found no value', attributes: [] },
  { registryName: 'cache_coalesced_total', name: 'coordination.cache.coalesced', kind: 'counter', unit: '{read}', description: 'Cache misses that waited for a loader already running, here or on another instance', attributes: [] },
  { registryName: 'cache_loader_calls_total', name: 'coordination.cache.loader.calls', kind: 'counter', unit: '{call}', description: 'Cache loader (factory) calls', attributes: [] },
  { registryName: 'cache_loader_errors_total', name: 'coordination.cache.loader.errors', kind: 'counter', unit: '{call}', description: 'Cache loader calls that threw', attributes: [] },
  { registryName: 'cache_loader_ms', name: 'coordination.cache.loader.duration', kind: 'histogram', unit: 'ms', description: 'Duration of cache loader calls', attributes: [] },
  { registryName: 'cache_lease_wait_timeouts_total', name: 'coordination.cache.lease.wait.timeouts', kind: 'counter', unit: '{read}', description: 'Cache misses that stopped waiting for another loader and loaded themselves', attributes: [] },
  { registryName: 'cache_refreshes_total', name: 'coordination.cache.refreshes', kind: 'counter', unit: '{refresh}', description: 'Background refreshes started (early refresh or stale-while-revalidate)', attributes: [] },
  { registryName: 'cache_errors_total', name: 'coordination.cache.errors', kind: 'counter', unit: '{error}', description: 'Cache Redis failures, by operation', attributes: ['operation'] },
  { registryName: 'cache_bus_malformed_total', name: 'coordination.cache.bus.malformed', kind: 'counter', unit: '{message}', description: 'Cache invalidation messages that could not be decoded', attributes: [] },
  { registryName: 'cache_bus_subscribe_failed_total', name: 'coordination.cache.bus.subscribe.failed', kind: 'counter', unit: '{failure}', description: 'Failed subscriptions of the cache invalidation bus (L1 is dropped until it resubscribes)', attributes: [] },

  // --- sessions
  { registryName: 'sessions_created_total', name: 'coordination.sessions.created', kind: 'counter', unit: '{session}', description: 'Sessions created', attributes: [] },
  { registryName: 'sessions_destroyed_total', name: 'coordination.sessions.destroyed', kind: 'counter', unit: '{session}', description: 'Sessions ended, by reason: destroy, regenerated, evicted, revoked', attributes: ['reason'] },
  { registryName: 'sessions_expired_total', name: 'coordination.sessions.expired', kind: 'counter', unit: '{session}', description: 'Expired sessions pruned from the per-user indexes', attributes: [] },
  { registryName: 'sessions_limit_rejected_total', name: 'coordination.sessions.limit.rejected', kind: 'counter', unit: '{session}', description: 'Session creations refused by the per-user session limit', attributes: [] },
  { registryName: 'sessions_version_conflicts_total', name: 'coordination.sessions.version.conflicts', kind: 'counter', unit: '{conflict}', description: 'Session saves refused because another write came first', attributes: [] },
  { registryName: 'sessions_errors_total', name: 'coordination.sessions.errors', kind: 'counter', unit: '{error}', description: 'Session failures, by operation (Redis unreachable; decode for an undecodable record)', attributes: ['operation'] },
  { registryName: 'sessions_active', name: 'coordination.sessions.active', kind: 'gauge', unit: '{session}', description: 'Live sessions of the fleet per tenant, counted by the last prune pass; reported only by the instance that ran it', attributes: ['tenant'], aggregation: 'max', tenants: 'scanned' },

  // --- events
  { registryName: 'events_published_total', name: 'coordination.events.published', kind: 'counter', unit: '{event}', description: 'Library events published, by channel', attributes: ['channel'] },
  { registryName: 'events_publish_failed_total', name: 'coordination.events.publish.failed', kind: 'counter', unit: '{event}', description: 'Library events whose publish failed, by channel', attributes: ['channel'] },
  { registryName: 'events_emit_failed_total', name: 'coordination.events.emit.failed', kind: 'counter', unit: '{event}', description: 'Library events that could not be emitted at all, by channel', attributes: ['channel'] },
  { registryName: 'events_decode_failed_total', name: 'coordination.events.decode.failed', kind: 'counter', unit: '{message}', description: 'Received event messages that could not be decoded, by channel', attributes: ['channel'] },
  { registryName: 'events_handler_failed_total', name: 'coordination.events.handler.failed', kind: 'counter', unit: '{call}', description: 'Event subscriber handler calls that threw, by handler', attributes: ['handler'] },

  // --- durable streams
  { registryName: 'streams_appended_total', name: 'coordination.streams.appended', kind: 'counter', unit: '{entry}', description: 'Entries appended to durable streams', attributes: [] },
  { registryName: 'streams_delivered_total', name: 'coordination.streams.delivered', kind: 'counter', unit: '{entry}', description: 'Stream entries delivered to a handler', attributes: ['stream', 'group'] },
  { registryName: 'streams_acked_total', name: 'coordination.streams.acked', kind: 'counter', unit: '{entry}', description: 'Stream entries acknowledged after their handler succeeded', attributes: ['stream', 'group'] },
  { registryName: 'streams_handler_failed_total', name: 'coordination.streams.handler.failed', kind: 'counter', unit: '{call}', description: 'Stream handler calls that threw', attributes: ['stream', 'group'] },
  { registryName: 'streams_dead_lettered_total', name: 'coordination.streams.dead.lettered', kind: 'counter', unit: '{entry}', description: 'Stream entries moved to the dead-letter stream', attributes: ['stream', 'group'] },
  { registryName: 'streams_reclaimed_total', name: 'coordination.streams.reclaimed', kind: 'counter', unit: '{entry}', description: 'Stream entries taken over from idle consumers', attributes: ['stream', 'group'] },
  { registryName: 'streams_entries_lost_total', name: 'coordination.streams.entries.lost', kind: 'counter', unit: '{entry}', description: 'Held stream entries another consumer reclaimed', attributes: ['stream', 'group'] },
  { registryName: 'streams_trimmed_unhandled_total', name: 'coordination.streams.trimmed.unhandled', kind: 'counter', unit: '{entry}', description: 'Pending stream entries trimmed away before they were handled', attributes: ['stream', 'group'] },
  { registryName: 'streams_handler_ms', name: 'coordination.streams.handler.duration', kind: 'histogram', unit: 'ms', description: 'Duration of stream handler calls', attributes: ['stream', 'group'] },
  { registryName: 'streams_group_pending', name: 'coordination.streams.group.pending', kind: 'gauge', unit: '{entry}', description: 'Entries delivered to the consumer group and not acknowledged yet', attributes: ['stream', 'group', 'tenant'], aggregation: 'max' },
  { registryName: 'streams_group_lag', name: 'coordination.streams.group.lag', kind: 'gauge', unit: '{entry}', description: 'Entries of the stream not yet delivered to the consumer group', attributes: ['stream', 'group', 'tenant'], aggregation: 'max' },

  // --- tasks
  { registryName: 'tasks_enqueued_total', name: 'coordination.tasks.enqueued', kind: 'counter', unit: '{task}', description: 'Tasks enqueued', attributes: ['task', 'tenant'] },
  { registryName: 'tasks_completed_total', name: 'coordination.tasks.completed', kind: 'counter', unit: '{task}', description: 'Tasks that completed', attributes: ['task', 'tenant'] },
  { registryName: 'tasks_failed_total', name: 'coordination.tasks.failed', kind: 'counter', unit: '{task}', description: 'Tasks that failed for good (attempts exhausted)', attributes: ['task', 'tenant'] },
  { registryName: 'tasks_retried_total', name: 'coordination.tasks.retried', kind: 'counter', unit: '{attempt}', description: 'Task attempts that failed and were scheduled again', attributes: ['task', 'tenant'] },
  { registryName: 'tasks_wait_ms', name: 'coordination.tasks.wait.duration', kind: 'histogram', unit: 'ms', description: 'Time tasks waited in the queue before their first attempt', attributes: ['task', 'tenant'] },
  { registryName: 'tasks_run_ms', name: 'coordination.tasks.run.duration', kind: 'histogram', unit: 'ms', description: 'Duration of task attempts', attributes: ['task', 'tenant'] },
  { registryName: 'tasks_depth', name: 'coordination.tasks.depth', kind: 'gauge', unit: '{task}', description: 'Tasks waiting in the queue', attributes: ['task', 'tenant'], aggregation: 'max' },
  { registryName: 'tasks_active', name: 'coordination.tasks.active', kind: 'gauge', unit: '{task}', description: 'Task attempts running in this process', attributes: ['task', 'tenant'], aggregation: 'sum' },

  // --- idempotency
  { registryName: 'idempotency_requests_total', name: 'coordination.idempotency.requests', kind: 'counter', unit: '{request}', description: 'Calls under an idempotency key, by outcome: executed, replayed, mismatch, in_flight, abandoned', attributes: ['outcome'] },
  { registryName: 'idempotency_errors_total', name: 'coordination.idempotency.errors', kind: 'counter', unit: '{error}', description: 'Idempotency store calls that failed because Redis was unreachable, by operation', attributes: ['operation'] },

  // --- leader election and singleton jobs
  { registryName: 'leader_terms_total', name: 'coordination.leader.terms', kind: 'counter', unit: '{term}', description: 'Leadership terms won, by role', attributes: ['role'] },
  { registryName: 'leader_terms_lost_total', name: 'coordination.leader.terms.lost', kind: 'counter', unit: '{term}', description: 'Leadership terms ended, by reason', attributes: ['reason'] },
  { registryName: 'leader_errors_total', name: 'coordination.leader.errors', kind: 'counter', unit: '{error}', description: 'Failed leader-election store calls, by operation', attributes: ['operation'] },
  { registryName: 'singleton_job_runs_total', name: 'coordination.singleton.job.runs', kind: 'counter', unit: '{run}', description: 'Singleton job runs, by job and outcome: completed, failed', attributes: ['job', 'outcome'] },
  { registryName: 'singleton_job_skips_total', name: 'coordination.singleton.job.skips', kind: 'counter', unit: '{tick}', description: 'Singleton job ticks skipped, by job and reason: taken, running, late', attributes: ['job', 'reason'] },

  // --- the Redis connection
  { registryName: 'redis_command_ms', name: 'coordination.redis.command.duration', kind: 'histogram', unit: 'ms', description: 'Round trip of commands and scripts run on the command connection that got a reply; measured only while an OpenTelemetry SDK receives the metrics', attributes: [] },
  { registryName: 'redis_reconnects_total', name: 'coordination.redis.reconnects', kind: 'counter', unit: '{reconnect}', description: 'Connections ready again after they were lost, by role: command, subscriber', attributes: ['role'] },
  { registryName: 'redis_breaker_state', name: 'coordination.redis.breaker.state', kind: 'gauge', unit: '1', description: 'Circuit breaker state: 0 closed, 1 half-open (its probe in flight), 2 open', attributes: [], aggregation: 'max' },
  { registryName: 'redis_breaker_opened_total', name: 'coordination.redis.breaker.opened', kind: 'counter', unit: '{opening}', description: 'Times the circuit breaker opened, a failed half-open probe re-opening it included', attributes: [] },
];

const CATALOG_BY_REGISTRY_NAME = new Map(METRIC_CATALOG.map((m) => [m.registryName, m]));

/**
 * The catalogue entry of a registry metric recorded as `kind`; undefined when it has none (or
 * the catalogue lists it as another kind).
 *
 * @example
 * catalogEntry('lock_wait_ms', 'histogram')?.name; // 'coordination.lock.wait.duration'
 */
export function catalogEntry(registryName: string, kind: MetricKind): MetricDefinition | undefined {
  const entry = CATALOG_BY_REGISTRY_NAME.get(registryName);
  return entry?.kind === kind ? entry : undefined;
}

/**
 * The OTel name the naming convention gives a registry metric (see MetricDefinition): what the
 * catalogue's names follow, and what a metric missing from the catalogue is exported as.
 *
 * @example
 * deriveMetricName('lock_wait_ms', 'histogram');      // 'coordination.lock.wait.duration'
 * deriveMetricName('cache_hits_total', 'counter');    // 'coordination.cache.hits'
 * deriveMetricName('tasks_depth', 'gauge');           // 'coordination.tasks.depth'
 */
export function deriveMetricName(registryName: string, kind: MetricKind): string {
  let stem = registryName;
  if (kind === 'counter' && stem.endsWith('_total')) stem = stem.slice(0, -'_total'.length);
  if (kind === 'histogram' && stem.endsWith('_ms')) stem = `${stem.slice(0, -'_ms'.length)}_duration`;
  const words = stem.replace(/[^A-Za-z0-9_]/g, '_').split('_').filter((w) => w.length > 0);
  return ['coordination', ...words].join('.');
}
