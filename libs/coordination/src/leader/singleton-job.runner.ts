import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { errorMessage } from '../events/error-message.js';
import { tickAt, type JobSchedule } from './job-schedule.js';
import { LeaderKeys } from './leader-keys.js';
import { JOB_TICK_STORE, type JobKeys, type JobTickStore } from './leader-store.interface.js';
import { LeaderLostError, LeaderShutdownError } from './leader.errors.js';
import { LEADER_OPTIONS, type ResolvedLeaderOptions } from './leader.options.js';
import type { JobTick } from './leader.types.js';

/** A job registered at bootstrap (SingletonJobExplorer). */
interface RegisteredJob {
  readonly name: string;
  /** `Class.method`, for logs. */
  readonly owner: string;
  readonly schedule: JobSchedule;
  readonly leaseMs: number;
  readonly keys: JobKeys;
  /** The last tick this instance computed (the start of the next search). */
  previousTickMs?: number;
  readonly runs: { readonly completed: () => void; readonly failed: () => void };
}

/** One run in progress on this instance. */
interface Run {
  readonly job: RegisteredJob;
  readonly fencingToken: number;
  readonly controller: AbortController;
  /** Settles (never rejects) when the handler returned and the lease was finished. */
  done?: Promise<void>;
  renewTimer?: NodeJS.Timeout;
  /** Stop renewing (shutdown gave up waiting): the lease runs out by itself. */
  abandoned: boolean;
}

/** The reasons a tick is skipped (singleton_job_skips_total{reason}). */
type SkipReason = 'taken' | 'running' | 'late';

/**
 * Runs the ticks of `@SingletonJob` handlers (internal: the decorator's wrapper calls it through the
 * instance's injected slot). For each firing of a handler's timer: compute the tick from the
 * registered schedule, claim it (JobTickStore.claimTick), and if claimed call the handler with its
 * JobTick, renewing the run lease every leaseMs/3 until it returns, then finish the lease.
 * Metrics: singleton_job_runs_total{job, outcome: completed|failed},
 * singleton_job_skips_total{job, reason: taken|running|late}, leader_errors_total{operation}.
 *
 * Shutdown (beforeApplicationShutdown): no new tick is claimed, running handlers' signals abort
 * with LeaderShutdownError, and shutdown waits for them up to `leader.shutdownTimeoutMs`; each run
 * that returns finishes its lease (the next tick runs elsewhere at once); a run still going after
 * the wait keeps its lease until it runs out (no renewal), so no other instance overlaps it.
 *
 * @example
 * // Registered by CoordinationModule; the explorer registers each job, the decorator calls:
 * await runner.run('nightly-report', (tick) => handler.call(instance, tick));
 */
@Injectable()
export class SingletonJobRunner implements BeforeApplicationShutdown {
  readonly logger = new Logger('SingletonJob');
  private readonly jobs = new Map<string, RegisteredJob>();
  private readonly running = new Set<Run>();
  private readonly keys: LeaderKeys;
  /** This module instance's claims: `<instanceId>:<random>`. */
  private readonly owner: string;
  private closing = false;

  constructor(
    private readonly core: CoordinationCore,
    @Inject(LEADER_OPTIONS) private readonly options: ResolvedLeaderOptions,
    @Inject(JOB_TICK_STORE) private readonly store: JobTickStore,
  ) {
    this.keys = new LeaderKeys(core.keys);
    this.owner = `${core.instanceId}:${randomBytes(6).toString('hex')}`;
  }

  /** Registers job `name` (validated by the explorer); throws when the name is registered already. */
  register(name: string, owner: string, schedule: JobSchedule, leaseMs: number = this.options.jobLeaseMs): void {
    const other = this.jobs.get(name);
    if (other) throw new Error(`@SingletonJob(${JSON.stringify(name)}) on ${owner}: ${other.owner} has that job name already; give each job its own name`);
    const { metrics } = this.core;
    this.jobs.set(name, {
      name,
      owner,
      schedule,
      leaseMs,
      keys: this.keys.job(name),
      runs: {
        completed: bindCounter(metrics.counterOf('singleton_job_runs_total', { job: name, outcome: 'completed' })),
        failed: bindCounter(metrics.counterOf('singleton_job_runs_total', { job: name, outcome: 'failed' })),
      },
    });
    this.logger.log(`${owner} runs once per fleet as job ${JSON.stringify(name)} (${schedule.description}, lease ${leaseMs} ms)`);
  }

  /** Whether job `name` is registered (for tests and the explorer). */
  has(name: string): boolean {
    return this.jobs.has(name);
  }

  /**
   * One firing of job `name`'s timer: claims the current tick and, if this instance got it, runs
   * `handler` with its JobTick. Never rejects for the handler's errors or the store's (logged and
   * counted); rejects only for a job no explorer registered.
   */
  async run(name: string, handler: (tick: JobTick) => unknown): Promise<void> {
    const job = this.jobs.get(name);
    if (!job) {
      throw new Error(
        `@SingletonJob(${JSON.stringify(name)}) was called but is not registered: its provider must be a singleton created by Nest, ` +
          `with @Cron() or @Interval() from @nestjs/schedule, in the application of this CoordinationModule`,
      );
    }
    if (this.closing) return;
    const tickMs = tickAt(job.schedule, this.core.clock.now(), this.options.jobMaxLatenessMs, job.previousTickMs);
    if (tickMs === undefined) return this.skip(job, 'late');
    job.previousTickMs = tickMs;
    let claim;
    try {
      claim = await this.store.claimTick(job.keys, tickMs, this.owner, job.leaseMs);
    } catch (error) {
      this.failure('claimTick', job, error);
      return;
    }
    if (!claim.claimed) return this.skip(job, claim.reason);
    if (this.closing) {
      // Claimed while shutting down: give the tick back to no one (it is over), free the lease at once.
      await this.finish(job, claim.fencingToken);
      return;
    }
    await this.execute(job, tickMs, claim.fencingToken, handler);
  }

  /**
   * Stops claiming ticks, aborts running handlers' signals (LeaderShutdownError), waits for them up
   * to `leader.shutdownTimeoutMs`; runs still going after that stop renewing their lease.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    const runs = [...this.running];
    if (runs.length === 0) return;
    for (const run of runs) run.controller.abort(new LeaderShutdownError(`job:${run.job.name}`));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.options.shutdownTimeoutMs);
    });
    const settled = Promise.all(runs.map((run) => run.done)).then(() => false);
    const gaveUp = await Promise.race([settled, timedOut]);
    clearTimeout(timer);
    if (!gaveUp) return;
    for (const run of this.running) {
      run.abandoned = true;
      clearInterval(run.renewTimer);
      this.logger.warn(
        `Job ${JSON.stringify(run.job.name)} (${run.job.owner}) still runs after ${this.options.shutdownTimeoutMs} ms of shutdown: ` +
          `its lease is no longer renewed and ends within ${run.job.leaseMs} ms`,
      );
    }
  }

  private async execute(job: RegisteredJob, tickMs: number, fencingToken: number, handler: (tick: JobTick) => unknown): Promise<void> {
    const controller = new AbortController();
    const run: Run = { job, fencingToken, controller, abandoned: false };
    const tick: JobTick = { job: job.name, scheduledAt: new Date(tickMs), fencingToken, signal: controller.signal };
    let settle!: () => void;
    run.done = new Promise<void>((resolve) => (settle = resolve));
    this.running.add(run);
    this.keepLease(run);
    try {
      await handler(tick);
      job.runs.completed();
    } catch (error) {
      job.runs.failed();
      this.logger.error(`Job ${JSON.stringify(job.name)} (${job.owner}) failed at tick ${tick.scheduledAt.toISOString()}: ${errorMessage(error)}`, error instanceof Error ? error.stack : undefined);
    } finally {
      clearInterval(run.renewTimer);
      this.running.delete(run);
      if (!run.abandoned) await this.finish(job, fencingToken);
      settle();
    }
  }

  /**
   * Renews the run lease every leaseMs/3. A renewal answered false (the lease is over) aborts the
   * signal; while renewals fail (Redis unreachable) it keeps trying, and aborts the signal at the
   * lease's local expiry (another instance may claim a later tick from then on).
   */
  private keepLease(run: Run): void {
    const { job, controller } = run;
    let expiresAt = this.core.clock.now() + job.leaseMs;
    let renewing = false;
    run.renewTimer = setInterval(() => {
      if (renewing || controller.signal.aborted) return;
      renewing = true;
      const startedAt = this.core.clock.now();
      this.store.renewTick(job.keys, this.owner, run.fencingToken, job.leaseMs).then(
        (renewed) => {
          renewing = false;
          if (renewed) expiresAt = startedAt + job.leaseMs;
          else this.lost(run, 'its run lease is over (expired or taken over)');
        },
        (error: unknown) => {
          renewing = false;
          this.failure('renewTick', job, error);
          if (this.core.clock.now() >= expiresAt) this.lost(run, 'its run lease could not be renewed before it expired');
        },
      );
    }, Math.max(1, Math.floor(job.leaseMs / 3)));
  }

  private lost(run: Run, why: string): void {
    clearInterval(run.renewTimer);
    if (run.controller.signal.aborted) return;
    this.logger.warn(`Job ${JSON.stringify(run.job.name)} (${run.job.owner}), run ${run.fencingToken}: ${why}; its signal is aborted`);
    run.controller.abort(new LeaderLostError(`job:${run.job.name}`, run.fencingToken, 'expired'));
  }

  private async finish(job: RegisteredJob, fencingToken: number): Promise<void> {
    try {
      await this.store.finishTick(job.keys, this.owner, fencingToken);
    } catch (error) {
      this.failure('finishTick', job, error);
    }
  }

  private skip(job: RegisteredJob, reason: SkipReason): void {
    this.core.metrics.increment('singleton_job_skips_total', { job: job.name, reason });
    if (reason === 'late') this.logger.warn(`Job ${JSON.stringify(job.name)}: the timer fired more than ${this.options.jobMaxLatenessMs} ms after the tick; skipped`);
  }

  private failure(operation: 'claimTick' | 'renewTick' | 'finishTick', job: RegisteredJob, error: unknown): void {
    this.core.metrics.increment('leader_errors_total', { operation });
    this.logger.warn(`Job ${JSON.stringify(job.name)}: ${operation} failed: ${errorMessage(error)}`);
  }
}

function bindCounter(counter: { add(by?: number): void }): () => void {
  return () => counter.add();
}
