import { Injectable, Logger } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { CircuitOpenError, RedisUnavailableError } from '../errors/coordination.error.js';
import { errorMessage } from '../events/error-message.js';
import type { CounterHandle, HistogramHandle, MetricLabels, MetricsRegistry } from '../metrics/metrics-registry.js';
import type { FailOutcome } from './stream-store.interface.js';
import type { StreamGroupInfo } from './stream.types.js';

/**
 * Metrics and logs of durable streams (library-internal), shared by StreamService and its
 * consumers. Metrics: streams_appended_total, and per {stream, group}: streams_delivered_total,
 * streams_acked_total, streams_handler_failed_total, streams_dead_lettered_total,
 * streams_reclaimed_total (entries taken over from idle consumers), streams_entries_lost_total
 * (held entries another consumer reclaimed), the streams_handler_ms histogram, and the gauges
 * streams_group_lag and streams_group_pending (refreshed on each idle-claim pass).
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

  constructor(private readonly core: CoordinationCore) {
    this.appended = core.metrics.counterOf('streams_appended_total');
  }

  /**
   * Runs one store call of `operation`, rethrowing an outage renamed after the public method.
   *
   * @example
   * const info = await observer.run('streams.groups', () => store.groups(keys));
   */
  async run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw this.failed(error, operation);
    }
  }

  /** What a failed store call of `operation` throws: an outage named after the public method (`streams.append`); anything else unchanged. */
  failed(error: unknown, operation: string): unknown {
    if (!(error instanceof RedisUnavailableError) || error.operation === operation) return error;
    return error instanceof CircuitOpenError ? new CircuitOpenError(error.retryAtMs, operation) : new RedisUnavailableError(operation, error);
  }

  /**
   * The metrics and log lines of one consumer, its counters bound once.
   *
   * @example
   * const observer = streamObserver.consumer('orders', 'billing', 'acme', 'worker-1');
   */
  consumer(stream: string, group: string, tenant: string, consumer: string): ConsumerObserver {
    return new ConsumerObserver(this.core.metrics, this.logger, stream, group, `${JSON.stringify(stream)} (tenant ${tenant}, group ${group}, consumer ${consumer})`);
  }
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
  readonly handlerMs: HistogramHandle;
  private readonly labels: MetricLabels;
  private paused = false;

  constructor(
    private readonly metrics: MetricsRegistry,
    private readonly logger: Logger,
    stream: string,
    group: string,
    /** How log lines name the consumer. */
    private readonly name: string,
  ) {
    this.labels = Object.freeze({ stream, group });
    this.delivered = metrics.counterOf('streams_delivered_total', this.labels);
    this.acked = metrics.counterOf('streams_acked_total', this.labels);
    this.failed = metrics.counterOf('streams_handler_failed_total', this.labels);
    this.deadLettered = metrics.counterOf('streams_dead_lettered_total', this.labels);
    this.reclaimed = metrics.counterOf('streams_reclaimed_total', this.labels);
    this.lost = metrics.counterOf('streams_entries_lost_total', this.labels);
    this.handlerMs = metrics.histogramOf('streams_handler_ms', this.labels);
  }

  backlog(info: StreamGroupInfo | undefined): void {
    if (!info) return;
    this.metrics.setGauge('streams_group_pending', info.pending, this.labels);
    if (info.lag !== null) this.metrics.setGauge('streams_group_lag', info.lag, this.labels);
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
      this.logger.warn(`${what}; no longer pending for this consumer (reclaimed or trimmed meanwhile)`);
    } else {
      this.logger.warn(`${what}; left pending (recording the failure failed too)`);
    }
  }

  /** An entry whose payload the serializer cannot decode went to the dead-letter stream (or stays pending when that failed). */
  undecodable(id: string, reason: string, dead: boolean): void {
    if (dead) this.deadLettered.add();
    this.logger.error(`${this.name}: cannot decode entry ${id} (${reason}); ${dead ? 'moved to the dead-letter stream' : 'left pending'}`);
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
