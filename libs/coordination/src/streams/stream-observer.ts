import { Injectable, Logger } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { outageAs, runAs } from '../errors/outage-operation.js';
import { isTransportError } from '../connection/redis-errors.js';
import { RedisUnavailableError } from '../errors/coordination.error.js';
import { errorMessage } from '../events/error-message.js';
import type { CounterHandle, HistogramHandle, MetricLabels, MetricsRegistry } from '../metrics/metrics-registry.js';
import type { FailOutcome } from './stream-store.interface.js';
import type { StreamGroupInfo } from './stream.types.js';

/** The gauges of a consumer group, per {stream, group, tenant}. */
const GROUP_GAUGES = ['streams_group_lag', 'streams_group_pending'] as const;

/**
 * Whether a store call failed because Redis is unreachable (the consumer pauses and retries),
 * rather than for what it asked.
 *
 * @example
 * if (isOutage(error)) observer.pause(error);
 */
export function isOutage(error: unknown): boolean {
  return error instanceof RedisUnavailableError || isTransportError(error);
}

/**
 * Metrics and logs of durable streams (library-internal), shared by StreamService and its
 * consumers. Metrics: streams_appended_total, and per {stream, group}: streams_delivered_total,
 * streams_acked_total, streams_handler_failed_total, streams_dead_lettered_total,
 * streams_reclaimed_total (entries taken over from idle consumers), streams_entries_lost_total
 * (held entries another consumer reclaimed), streams_trimmed_unhandled_total (pending entries
 * trimmed away, MAXLEN, before they were handled), the streams_handler_ms histogram; and per
 * {stream, group, tenant} the gauges streams_group_lag and streams_group_pending, refreshed by
 * the group's consumers every claimIdleMs/2 and removed when the last one in the process stops.
 *
 * @example
 * const id = await store.append(keys, data, maxLen).catch((e) => { throw observer.failed(e, 'streams.append'); });
 * observer.appended.add();
 */
@Injectable()
export class StreamObserver {
  readonly logger = new Logger('Coordination:Streams');
  /** Bound once: `append` is a hot path. */
  readonly appended: CounterHandle;
  /** How many running consumers of this process keep each group's gauges. */
  private readonly gaugeKeepers = new Map<string, number>();

  constructor(private readonly core: CoordinationCore) {
    this.appended = core.metrics.counterOf('streams_appended_total');
  }

  /**
   * Runs one store call of `operation`, rethrowing an outage renamed after the public method.
   *
   * @example
   * const info = await observer.run('streams.groups', () => store.groups(keys));
   */
  run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return runAs(operation, work);
  }

  /** What a failed store call of `operation` throws: an outage named after the public method (`streams.append`); anything else unchanged. */
  failed(error: unknown, operation: string): unknown {
    return outageAs(error, operation);
  }

  /**
   * The metrics and log lines of one consumer, its counters bound once.
   *
   * @example
   * const observer = streamObserver.consumer('orders', 'billing', 'acme', 'worker-1');
   */
  consumer(stream: string, group: string, tenant: string, consumer: string): ConsumerObserver {
    const gauges: GroupGaugeSeries = { labels: Object.freeze({ stream, group, tenant }), keep: () => this.keepGauges(gauges.labels), drop: () => this.dropGauges(gauges.labels) };
    return new ConsumerObserver(this.core.metrics, this.logger, stream, group, `${JSON.stringify(stream)} (tenant ${tenant}, group ${group}, consumer ${consumer})`, gauges);
  }

  private keepGauges(labels: MetricLabels): void {
    const key = JSON.stringify(labels);
    this.gaugeKeepers.set(key, (this.gaugeKeepers.get(key) ?? 0) + 1);
  }

  /** The last consumer of the group in this process stopped: its gauges would only go stale. */
  private dropGauges(labels: MetricLabels): void {
    const key = JSON.stringify(labels);
    const keepers = (this.gaugeKeepers.get(key) ?? 1) - 1;
    if (keepers > 0) return void this.gaugeKeepers.set(key, keepers);
    this.gaugeKeepers.delete(key);
    for (const name of GROUP_GAUGES) this.core.metrics.removeGauge(name, labels);
  }
}

/**
 * The gauge series of one consumer group (per tenant), shared by its consumers in the process.
 *
 * @example
 * series.keep(); // a consumer starts
 * series.drop(); // it stops: the last one removes the series
 */
export interface GroupGaugeSeries {
  readonly labels: MetricLabels;
  keep(): void;
  drop(): void;
}

/**
 * Counters (bound once), the handler histogram, the group gauges and the log lines of one
 * consumer: what StreamConsumerRunner reports, in one place.
 *
 * @example
 * observer.delivered.add();
 * observer.handlerFailed(entryId, 2, 5, error, 'retry', 30_000);
 */
export class ConsumerObserver {
  readonly delivered: CounterHandle;
  readonly acked: CounterHandle;
  readonly failed: CounterHandle;
  readonly deadLettered: CounterHandle;
  readonly reclaimed: CounterHandle;
  readonly lost: CounterHandle;
  readonly trimmed: CounterHandle;
  readonly handlerMs: HistogramHandle;
  private readonly labels: MetricLabels;
  private paused = false;
  /** Best-effort tasks whose failure was logged already (once per consumer). */
  private readonly warned = new Set<string>();

  constructor(
    private readonly metrics: MetricsRegistry,
    private readonly logger: Logger,
    stream: string,
    group: string,
    /** How log lines name the consumer. */
    private readonly name: string,
    readonly gauges: GroupGaugeSeries,
  ) {
    this.labels = Object.freeze({ stream, group });
    this.delivered = metrics.counterOf('streams_delivered_total', this.labels);
    this.acked = metrics.counterOf('streams_acked_total', this.labels);
    this.failed = metrics.counterOf('streams_handler_failed_total', this.labels);
    this.deadLettered = metrics.counterOf('streams_dead_lettered_total', this.labels);
    this.reclaimed = metrics.counterOf('streams_reclaimed_total', this.labels);
    this.lost = metrics.counterOf('streams_entries_lost_total', this.labels);
    this.trimmed = metrics.counterOf('streams_trimmed_unhandled_total', this.labels);
    this.handlerMs = metrics.histogramOf('streams_handler_ms', this.labels);
  }

  /** The group's lag and pending count (XINFO GROUPS), into its gauges. */
  backlog(info: StreamGroupInfo | undefined): void {
    if (!info) return;
    this.metrics.setGauge('streams_group_pending', info.pending, this.gauges.labels);
    if (info.lag !== null) this.metrics.setGauge('streams_group_lag', info.lag, this.gauges.labels);
  }

  /** A task beside the loop (`refresh the group gauges`, `prune idle consumers`, a timed `renew the held entries`) failed other than by an outage: said once per consumer. */
  bestEffortFailed(task: string, error: unknown): void {
    if (isOutage(error) || this.warned.has(task)) return;
    this.warned.add(task);
    this.logger.warn(`${this.name}: cannot ${task}: ${errorMessage(error)}; consuming goes on (said once)`);
  }

  /** Pending entries trimmed away (MAXLEN) before they were handled: nothing will deliver them again. */
  trimmedAway(count: number): void {
    if (count === 0) return;
    this.trimmed.add(count);
    this.logger.warn(`${this.name}: ${count} pending entries were trimmed away (MAXLEN) before they were handled: lost unhandled; raise the stream's maxLen if consumers fall that far behind`);
  }

  /** A handler threw, and what `fail` did about it (null: the store call failed too; the entry stays pending). */
  handlerFailed(id: string, deliveries: number, maxDeliveries: number, error: unknown, outcome: FailOutcome | null, claimIdleMs: number): void {
    this.failed.add();
    const what = `${this.name}: the handler failed on entry ${id} (delivery ${deliveries} of ${maxDeliveries}): ${errorMessage(error)}`;
    if (outcome === 'dead') {
      this.deadLettered.add();
      this.logger.error(`${what}; moved to the dead-letter stream`);
    } else if (outcome === 'retry') {
      this.logger.warn(`${what}; delivered again after ${claimIdleMs} ms`);
    } else if (outcome === 'gone') {
      this.logger.warn(`${what}; no longer pending for this consumer (reclaimed by another one meanwhile)`);
    } else if (outcome === 'trimmed') {
      this.trimmed.add();
      this.logger.warn(`${what}; trimmed away meanwhile: lost unhandled; raise the stream's maxLen if consumers fall that far behind`);
    } else {
      this.logger.warn(`${what}; left pending (recording the failure failed too)`);
    }
  }

  /** An entry whose payload the serializer cannot decode went to the dead-letter stream (or stays pending when that failed). */
  undecodable(id: string, reason: string, outcome: FailOutcome | null): void {
    if (outcome === 'dead') this.deadLettered.add();
    if (outcome === 'trimmed') this.trimmed.add();
    const fate = outcome === 'dead' ? 'moved to the dead-letter stream' : outcome === 'trimmed' ? 'trimmed away meanwhile' : 'left pending';
    this.logger.error(`${this.name}: cannot decode entry ${id} (${reason}); ${fate}`);
  }

  /** `claim` moved entries of crashed or stalled consumers past maxDeliveries to the dead-letter stream. */
  givenUp(count: number): void {
    if (count === 0) return;
    this.deadLettered.add(count);
    this.logger.error(`${this.name}: ${count} entries delivered too often without an acknowledgement moved to the dead-letter stream`);
  }

  /** Held entries another consumer reclaimed (this one stalled past claimIdleMs). */
  entriesLost(ids: readonly string[]): void {
    this.lost.add(ids.length);
    this.logger.warn(`${this.name}: ${ids.length} held entries were reclaimed by another consumer (${ids.slice(0, 5).join(', ')}); increase claimIdleMs if handlers run that long`);
  }

  /** The consumer cannot reach Redis (logged once per outage). */
  pause(error: unknown): void {
    if (this.paused) return;
    this.paused = true;
    this.logger.warn(`${this.name} paused: ${errorMessage(error)}; retrying with backoff`);
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.logger.log(`${this.name} resumed`);
  }

  /** A failure that is not an outage (a reply error, a bug); the consumer retries with backoff. */
  unexpected(error: unknown): void {
    this.logger.error(`${this.name}: ${errorMessage(error)}; retrying with backoff`, error instanceof Error ? error.stack : undefined);
  }

  /** What stop() left pending: handlers still running after shutdownTimeoutMs, and acks it could not send. */
  leftPending(handlers: number, acks: number, timeoutMs: number): void {
    if (handlers > 0) this.logger.warn(`${this.name} stopped with ${handlers} handlers still running after ${timeoutMs} ms; their entries stay pending`);
    if (acks > 0) this.logger.warn(`${this.name} stopped without acknowledging ${acks} handled entries (Redis unreachable); they will be delivered again`);
  }

  groupMissing(): void {
    this.logger.warn(`${this.name}: the stream or its group was deleted; creating the group again`);
  }
}
