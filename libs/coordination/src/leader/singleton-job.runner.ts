import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { deadlineClock } from '../core/clock.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { errorMessage } from '../events/error-message.js';
import { driftMs } from '../locks/lock.js';
import { tickAt, type JobSchedule } from './job-schedule.js';
import { LeaderKeys } from './leader-keys.js';
import { JOB_TICK_STORE, type JobKeys, type JobTickStore } from './leader-store.interface.js';
import { LeaderLostError, LeaderShutdownError } from './leader.errors.js';
import { LEADER_OPTIONS, type ResolvedLeaderOptions } from './leader.options.js';
import type { JobTick } from './leader.types.js';

/** A failed renewal is retried after at most this long, ms (a third of the lease when that is shorter). */
const RENEW_RETRY_MS = 250;

/** A job registered at bootstrap (SingletonJobExplorer). */
interface RegisteredJob {
  readonly name: string;
  /** `Class.method`, for logs. */
  readonly owner: string;
  readonly schedule: JobSchedule;
  readonly leaseMs: number;
  readonly keys: JobKeys;
  /** The latest tick this instance computed (the start of the next search). */
  previousTickMs?: number;
  /** The clock was found behind `previousTickMs` (stepped back): warned once, until a tick is found again. */
  clockBehind: boolean;
  readonly runs: { readonly completed: () => void; readonly failed: () => void };
}

/** One firing in progress on this instance, from its claim to the finish of its lease. */
interface Run {
  readonly job: RegisteredJob;
  readonly controller: AbortController;
  /** Settles (never rejects) once the claim was answered and, if claimed, the handler returned and the lease was finished. */
  readonly done: Promise<void>;
  /** Set once the tick was claimed. */
  fencingToken?: number;
  /** Local time (`now()`) by which the lease has surely ended in the store: start of the call that claimed or renewed it + lease − drift. */
  expiresAt: number;
  renewTimer?: NodeJS.Timeout;
  expiryTimer?: NodeJS.Timeout;
  /** No more renewals: the lease is lost (or finishing). */
  stopped: boolean;
  /** Shutdown gave up waiting: the lease is left to run out (the connection closes). */
  abandoned: boolean;
}

/** The reasons a tick is skipped (singleton_job_skips_total{reason}). */
type SkipReason = 'taken' | 'running' | 'late';

/** leader_errors_total{operation} of the job store's calls. */
type JobOperation = 'jobs.claim' | 'jobs.renew' | 'jobs.finish';

/**
 * Runs the ticks of `@SingletonJob` handlers (internal: the decorator's wrapper calls it through the
 * instance's injected slot). For each firing of a handler's timer: compute the tick from the
 * registered schedule, claim it (JobTickStore.claimTick), and if claimed call the handler with its
 * JobTick, renewing the run lease every leaseMs/3 until it returns, then finish the lease.
 * Metrics: singleton_job_runs_total{job, outcome: completed|failed},
 * singleton_job_skips_total{job, reason: taken|running|late},
 * leader_errors_total{operation: jobs.claim|jobs.renew|jobs.finish}.
 *
 * The run's signal aborts with LeaderLostError (`job:<name>`, reason 'expired') when a renewal
 * answers that the lease is over, and at the lease's LOCAL expiry whatever the renewals do (failing
 * or hanging): the time taken before the call that claimed or last renewed it, plus `leaseMs`,
 * minus a drift margin, so before the store can let another instance claim a later tick. Local
 * deadlines are measured on a monotonic clock when the injected clock is the system clock (a
 * wall-clock step cannot stretch them); on the injected clock otherwise (tests' ManualClock).
 *
 * Shutdown (beforeApplicationShutdown): no new tick is claimed, running handlers' signals abort
 * with LeaderShutdownError, and shutdown waits for them, and for claims in flight, up to
 * `leader.shutdownTimeoutMs`; each run that returns (or claim answered) finishes its lease before
 * the connection closes (the next tick runs elsewhere at once); a run still going after the wait
 * keeps its lease until it runs out (no renewal), so no other instance overlaps it.
 *
 * Logs: a failing store call is warned about once (then debug) until a call succeeds again, which
 * is logged; a clock found behind the last tick (stepped back) is warned about once per job.
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
  /** This module instance's claims: `<instanceId>:<random>`. */
  private readonly owner: string;
  /** Local time for lease deadlines: monotonic on the system clock, the injected clock otherwise. */
  private readonly now: () => number;
  private closing = false;
  /** Store calls failed in a row (0: the store answers); the first is warned about, the others logged at debug. */
  private failing = 0;

  constructor(
    private readonly core: CoordinationCore,
    @Inject(LEADER_OPTIONS) private readonly options: ResolvedLeaderOptions,
    @Inject(JOB_TICK_STORE) private readonly store: JobTickStore,
    private readonly keys: LeaderKeys,
  ) {
    this.owner = `${core.instanceId}:${randomBytes(6).toString('hex')}`;
    this.now = deadlineClock(core.clock);
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
      clockBehind: false,
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
    const wallMs = this.core.clock.now();
    if (job.previousTickMs !== undefined && wallMs < job.previousTickMs) return this.clockBehind(job, wallMs);
    const tickMs = tickAt(job.schedule, wallMs, this.options.jobMaxLatenessMs, job.previousTickMs);
    if (tickMs === undefined) return this.skip(job, 'late');
    if (job.clockBehind) {
      job.clockBehind = false;
      this.logger.log(`Job ${JSON.stringify(job.name)}: the clock passed the last tick again; ticks are claimed again`);
    }
    job.previousTickMs = Math.max(job.previousTickMs ?? tickMs, tickMs);
    // Registered before the claim: shutdown waits for a claim in flight and the finish of its lease.
    let settle!: () => void;
    const run: Run = {
      job, controller: new AbortController(), done: new Promise<void>((resolve) => (settle = resolve)), expiresAt: 0, stopped: false, abandoned: false,
    };
    this.running.add(run);
    try {
      await this.claimAndExecute(run, tickMs, handler);
    } finally {
      this.stopLease(run);
      this.running.delete(run);
      settle();
    }
  }

  /**
   * Stops claiming ticks, aborts running handlers' signals (LeaderShutdownError), waits for them
   * and for claims in flight up to `leader.shutdownTimeoutMs`; runs still going after that stop
   * renewing their lease.
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
      this.stopLease(run);
      this.logger.warn(
        run.fencingToken === undefined
          ? `Job ${JSON.stringify(run.job.name)} (${run.job.owner}): its claim is still unanswered after ${this.options.shutdownTimeoutMs} ms of shutdown; ` +
              `if it was granted, its lease ends within ${run.job.leaseMs} ms`
          : `Job ${JSON.stringify(run.job.name)} (${run.job.owner}) still runs after ${this.options.shutdownTimeoutMs} ms of shutdown: ` +
              `its lease is no longer renewed and ends within ${run.job.leaseMs} ms`,
      );
    }
  }

  private async claimAndExecute(run: Run, tickMs: number, handler: (tick: JobTick) => unknown): Promise<void> {
    const { job } = run;
    const at = this.now(); // before the call: the lease may start as soon as the store receives it
    let claim;
    try {
      claim = await this.store.claimTick(job.keys, tickMs, this.owner, job.leaseMs);
    } catch (error) {
      this.failure('jobs.claim', job, error);
      return;
    }
    this.answered();
    if (!claim.claimed) return this.skip(job, claim.reason);
    const { fencingToken } = claim;
    run.fencingToken = fencingToken;
    if (this.closing) {
      // Claimed while shutting down: the tick is over for everyone; free the lease at once.
      if (!run.abandoned) await this.finish(job, fencingToken);
      return;
    }
    run.expiresAt = at + job.leaseMs - driftMs(job.leaseMs);
    this.armExpiry(run);
    this.scheduleRenewal(run, this.renewEveryMs(job));
    const tick: JobTick = { job: job.name, scheduledAt: new Date(tickMs), fencingToken, signal: run.controller.signal };
    try {
      await handler(tick);
      job.runs.completed();
    } catch (error) {
      job.runs.failed();
      this.logger.error(`Job ${JSON.stringify(job.name)} (${job.owner}) failed at tick ${tick.scheduledAt.toISOString()}: ${errorMessage(error)}`, error instanceof Error ? error.stack : undefined);
    } finally {
      this.stopLease(run);
      if (!run.abandoned) await this.finish(job, fencingToken);
    }
  }

  private renewEveryMs(job: RegisteredJob): number {
    return Math.max(1, Math.floor(job.leaseMs / 3));
  }

  private scheduleRenewal(run: Run, ms: number): void {
    clearTimeout(run.renewTimer);
    run.renewTimer = setTimeout(() => void this.renew(run), ms);
  }

  /**
   * Renews the run lease. Answered false (the lease is over): the signal aborts. Failed (Redis
   * unreachable): retried soon; the expiry timer ends the run at the local expiry meanwhile. A
   * renewal that never answers stops the renewals, not the expiry timer.
   */
  private async renew(run: Run): Promise<void> {
    run.renewTimer = undefined;
    if (run.stopped) return;
    const { job } = run;
    const at = this.now();
    let renewed: boolean;
    try {
      renewed = await this.store.renewTick(job.keys, this.owner, run.fencingToken!, job.leaseMs);
    } catch (error) {
      this.failure('jobs.renew', job, error);
      if (!run.stopped) this.scheduleRenewal(run, Math.min(RENEW_RETRY_MS, this.renewEveryMs(job)));
      return;
    }
    this.answered();
    if (run.stopped) return;
    if (!renewed) return this.lost(run, 'a renewal found its run lease over (expired in the store)');
    run.expiresAt = at + job.leaseMs - driftMs(job.leaseMs);
    this.armExpiry(run);
    this.scheduleRenewal(run, this.renewEveryMs(job));
  }

  /** The timer that ends the run at its local expiry when no renewal moved it (the store unreachable, slow, or not answering). */
  private armExpiry(run: Run): void {
    clearTimeout(run.expiryTimer);
    run.expiryTimer = setTimeout(() => {
      run.expiryTimer = undefined;
      if (run.stopped) return;
      // The injected clock may be a test's ManualClock: real time passing is not enough.
      if (this.now() < run.expiresAt) return this.armExpiry(run);
      this.lost(run, `its run lease was not renewed in time (local expiry: ${run.job.leaseMs} ms lease less ${driftMs(run.job.leaseMs)} ms drift)`);
    }, Math.max(0, run.expiresAt - this.now()));
  }

  /** No more renewals and no expiry for `run`. */
  private stopLease(run: Run): void {
    run.stopped = true;
    clearTimeout(run.renewTimer);
    clearTimeout(run.expiryTimer);
    run.renewTimer = run.expiryTimer = undefined;
  }

  private lost(run: Run, why: string): void {
    this.stopLease(run);
    if (run.controller.signal.aborted) return;
    this.logger.warn(`Job ${JSON.stringify(run.job.name)} (${run.job.owner}), run ${run.fencingToken}: ${why}; its signal is aborted (another instance may claim the next tick)`);
    run.controller.abort(new LeaderLostError(`job:${run.job.name}`, run.fencingToken!, 'expired'));
  }

  private async finish(job: RegisteredJob, fencingToken: number): Promise<void> {
    try {
      await this.store.finishTick(job.keys, this.owner, fencingToken);
      this.answered();
    } catch (error) {
      this.failure('jobs.finish', job, error);
    }
  }

  private skip(job: RegisteredJob, reason: SkipReason): void {
    this.core.metrics.increment('singleton_job_skips_total', { job: job.name, reason });
    if (reason === 'late') {
      this.logger.warn(
        `Job ${JSON.stringify(job.name)}: the timer fired more than ${this.options.jobMaxLatenessMs} ms (leader.jobMaxLatenessMs) after its scheduled time ` +
          `(event loop blocked or process suspended?); tick skipped`,
      );
    }
  }

  /** The clock is behind the last tick this instance saw: it stepped back. Skipped ('late') until it passes that tick again. */
  private clockBehind(job: RegisteredJob, wallMs: number): void {
    this.core.metrics.increment('singleton_job_skips_total', { job: job.name, reason: 'late' });
    const message =
      `Job ${JSON.stringify(job.name)}: the clock (${new Date(wallMs).toISOString()}) is behind the last tick this instance saw ` +
      `(${new Date(job.previousTickMs!).toISOString()}): it stepped back; ticks are skipped until it passes that time again`;
    if (job.clockBehind) return this.logger.debug(message);
    job.clockBehind = true;
    this.logger.warn(message);
  }

  private failure(operation: JobOperation, job: RegisteredJob, error: unknown): void {
    this.core.metrics.increment('leader_errors_total', { operation });
    const message = `Job ${JSON.stringify(job.name)}: ${operation} failed: ${errorMessage(error)}`;
    if (this.failing++ > 0) return this.logger.debug(message);
    this.logger.warn(`${message}; ticks are skipped while the store fails (further failures are logged at debug level until it answers again)`);
  }

  /** A store call succeeded: logs the end of a run of failures. */
  private answered(): void {
    if (this.failing === 0) return;
    this.logger.log(`The job store answers again (after ${this.failing} failed call${this.failing === 1 ? '' : 's'}); singleton jobs claim their ticks again`);
    this.failing = 0;
  }
}

function bindCounter(counter: { add(by?: number): void }): () => void {
  return () => counter.add();
}
