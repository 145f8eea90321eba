import { Injectable, Logger } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { outageAs, runAs } from '../errors/outage-operation.js';
import { errorMessage } from '../events/error-message.js';
import type { CounterHandle, HistogramHandle, MetricLabels } from '../metrics/metrics-registry.js';
import type { AttemptOutcome, RunningTask } from './task-backend.interface.js';

/** Series (task name × tenant) whose handles one process keeps bound before it starts over. */
const MAX_SERIES = 10_000;
/** Tenants per task name whose depth gauge one process refreshes. */
const MAX_DEPTH_TENANTS = 1_000;

/**
 * The metric handles of one task name and tenant, bound once.
 *
 * @example
 * observer.series('agent.step', 'acme').completed.add();
 */
export interface TaskSeries {
  readonly labels: MetricLabels;
  readonly enqueued: CounterHandle;
  readonly completed: CounterHandle;
  readonly failed: CounterHandle;
  readonly retried: CounterHandle;
  readonly waitMs: HistogramHandle;
  readonly runMs: HistogramHandle;
}

/** A TaskSeries with its key in `bound` (and `running`), built once. */
interface BoundSeries extends TaskSeries {
  readonly id: string;
}

/**
 * Metrics and logs of the task queue (library-internal), shared by TaskService and the workers
 * TaskHandlerExplorer starts. Per {task, tenant}: the counters tasks_enqueued_total (tasks added:
 * a deduplicated jobId is not), and, from each attempt's outcome as the backend settled it
 * (WorkOptions.onSettled), tasks_completed_total, tasks_failed_total (final failures: attempts
 * exhausted, UnrecoverableTaskError, or a result that could not be stored) and tasks_retried_total
 * (failed attempts that will be retried); an attempt cut off by shutdown and handed back counts in
 * none of them (nor in tasks_run_ms). The histograms tasks_wait_ms (first attempts only: start -
 * runAt, the time the task waited in the queue; a retry's backoff is not a queue wait) and
 * tasks_run_ms (settled attempts); the gauges tasks_active (tasks this process runs) and
 * tasks_depth (tasks enqueued without a delay, or put back by retry, that have not started;
 * refreshed for the names this process handles, for at most 1 000 tenants per name it saw: the
 * series of a tenant it forgets is removed).
 *
 * @example
 * await observer.run('tasks.get', () => backend.get(name, tenant, jobId));
 * observer.series(name, tenant).enqueued.add(count);
 */
@Injectable()
export class TaskObserver {
  readonly logger = new Logger('Coordination:Tasks');
  private readonly bound = new Map<string, BoundSeries>();
  private readonly running = new Map<string, number>();
  private readonly seen = new Map<string, Set<string>>();
  /** The error of each attempt whose handler threw, until the backend settles it (for the log). */
  private readonly errors = new WeakMap<RunningTask, unknown>();
  /** Set at shutdown: tasks still finishing no longer write gauges that were removed. */
  private gaugesDropped = false;

  constructor(private readonly core: CoordinationCore) {}

  /**
   * Runs one backend call of `operation`, rethrowing an outage renamed after the public method.
   *
   * @example
   * const stored = await observer.run('tasks.enqueue', () => backend.add(name, tenant, tasks));
   */
  run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return runAs(operation, work, outageAs);
  }

  /** The metric handles of `name` and `tenant` (bound once); remembers the tenant for the depth gauge. */
  series(name: string, tenant: string): TaskSeries {
    const id = `${name}\n${tenant}`;
    let series = this.bound.get(id);
    if (series === undefined) {
      if (this.bound.size >= MAX_SERIES) this.bound.clear();
      const labels = Object.freeze({ task: name, tenant });
      const m = this.core.metrics;
      series = {
        id,
        labels,
        enqueued: m.counterOf('tasks_enqueued_total', labels),
        completed: m.counterOf('tasks_completed_total', labels),
        failed: m.counterOf('tasks_failed_total', labels),
        retried: m.counterOf('tasks_retried_total', labels),
        waitMs: m.histogramOf('tasks_wait_ms', labels),
        runMs: m.histogramOf('tasks_run_ms', labels),
      };
      this.bound.set(id, series as BoundSeries);
      this.remember(name, tenant);
    }
    return series;
  }

  /**
   * One attempt starts: the active gauge, and on a first attempt its wait in the queue
   * (start - runAt; a retry's wait is its backoff, not queueing).
   *
   * @example
   * const series = observer.started(task);
   */
  started(task: RunningTask): TaskSeries {
    const series = this.series(task.name, task.tenant);
    if (task.attempt === 1) series.waitMs.observe(Math.max(0, task.startedAtMs - task.runAtMs));
    this.setActive(series, 1);
    return series;
  }

  /**
   * The handler of one attempt returned or threw (`error`, kept for the log of `settled`).
   *
   * @example
   * observer.ran(task, series, error);
   */
  ran(task: RunningTask, series: TaskSeries, error?: unknown): void {
    this.setActive(series, -1);
    if (error !== undefined) this.errors.set(task, error);
  }

  /**
   * The backend settled one attempt (WorkOptions.onSettled): counts it by its outcome.
   *
   * @example
   * backend.work(name, { concurrency, onSettled: (task, outcome, runMs) => observer.settled(task, outcome, runMs) }, processor);
   */
  settled(task: RunningTask, outcome: AttemptOutcome, runMs: number): void {
    const series = this.series(task.name, task.tenant);
    if (outcome === 'completed') {
      series.runMs.observe(runMs);
      return series.completed.add();
    }
    const error = this.errors.get(task);
    const what = `Task ${task.name}:${task.jobId} (tenant ${task.tenant}) attempt ${task.attempt}/${task.attempts}`;
    if (outcome === 'handed-back') return this.logger.debug(`${what} was cut off by shutdown; it is handed back to run again`);
    series.runMs.observe(runMs);
    const failed = `${what} failed${error === undefined ? '' : `: ${errorMessage(error)}`}`;
    if (outcome === 'failed') {
      series.failed.add();
      this.logger.warn(`${failed}; it goes to the failed view`);
    } else {
      series.retried.add();
      this.logger.debug(`${failed}; it will be retried`);
    }
  }

  /** Sets the depth gauge of `name` and `tenant`. */
  depth(name: string, tenant: string, value: number): void {
    if (!this.gaugesDropped) this.core.metrics.setGauge('tasks_depth', value, this.series(name, tenant).labels);
  }

  /** The tenants this process enqueued or ran tasks of `name` for (at most 1 000). */
  tenantsOf(name: string): string[] {
    return [...(this.seen.get(name) ?? [])];
  }

  /** Removes the gauges of `names` (the workers stopped: they would only go stale). */
  dropGauges(names: readonly string[]): void {
    this.gaugesDropped = true;
    for (const name of names) {
      for (const tenant of this.tenantsOf(name)) {
        const labels = { task: name, tenant };
        this.core.metrics.removeGauge('tasks_depth', labels);
        this.core.metrics.removeGauge('tasks_active', labels);
      }
    }
  }

  private setActive(series: TaskSeries, by: number): void {
    const id = (series as BoundSeries).id;
    const active = Math.max(0, (this.running.get(id) ?? 0) + by);
    if (active === 0) this.running.delete(id);
    else this.running.set(id, active);
    if (!this.gaugesDropped) this.core.metrics.setGauge('tasks_active', active, series.labels);
  }

  private remember(name: string, tenant: string): void {
    let tenants = this.seen.get(name);
    if (tenants === undefined) this.seen.set(name, (tenants = new Set()));
    if (tenants.size >= MAX_DEPTH_TENANTS && !tenants.has(tenant)) {
      const forgotten = tenants.values().next().value as string;
      tenants.delete(forgotten);
      // No longer refreshed: its last value would go stale.
      this.core.metrics.removeGauge('tasks_depth', { task: name, tenant: forgotten });
    }
    tenants.add(tenant);
  }
}
