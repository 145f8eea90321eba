import { Logger } from '@nestjs/common';
import { settlesWithin } from '../connection/close-client.js';
import type { RedisClient } from '../connection/redis-client.factory.js';
import { haltable, type BullMQ, type HaltableWorker } from './redis-task-bullmq.js';
import type { AttemptOutcome, RunningTask, TaskProcessor, TaskWorker, WorkOptions } from './task-backend.interface.js';
import { LazyAbort } from './task-abort.js';
import { UnrecoverableTaskError } from './task.errors.js';
import { asError, unstorable, type TaskJob } from './redis-task-records.js';

/** What the worker tells its backend about a task's run (scripts on the command connection). */
export interface TaskRunHooks {
  /** The task started for the first time: fire-and-forget, never awaited. */
  firstStart(name: string, tenant: string, jobId: string): void;
  /** The attempt that failed is the last one: awaited before BullMQ moves the job to failed. */
  finalFailure(name: string, tenant: string, jobId: string): Promise<void>;
  /** finalFailure failed: written again once BullMQ failed the job (bounded tries, never rejects). */
  finalFailureAgain(name: string, tenant: string, jobId: string): Promise<void>;
}

/** Worker options the backend resolved from the `tasks` section. */
export interface RedisTaskWorkerOptions {
  name: string;
  queueName: string;
  prefix: string;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  onSettled?: WorkOptions['onSettled'];
}

/** An attempt the processor finished, until BullMQ settles it (its completed or failed event). */
interface Finished {
  task: RunningTask;
  runMs: number;
  /** The failure is the last one (attempts exhausted, unrecoverable, or a result that cannot be stored). */
  final: boolean;
  /** The dead-letter view write failed: written again on the failed event. */
  viewPending: boolean;
}
/** Errors of a worker's connections are logged at most this often (an outage repeats them). */
const ERROR_LOG_INTERVAL_MS = 5_000;
/** How long a cut-off shutdown waits for BullMQ's close after aborting the signals, then after dropping its connections. */
const DISCONNECT_GRACE_MS = 1_000;

/**
 * One BullMQ Worker of a task name, serving every tenant: each job becomes a RunningTask for the
 * processor. It runs on its own `queue` connection (given by the backend, released after its
 * close), so a cut-off close that disconnects it leaves the backend's other workers running.
 * On a first start (BullMQ's `attemptsStarted === 1`), and on the run after a stall (whose dead
 * worker may have died before its removal arrived), it takes the job id out of its tenant's
 * waiting set without waiting; on a last failure (attempts exhausted, UnrecoverableTaskError
 * rethrown as BullMQ's UnrecoverableError, or a result that cannot be stored as JSON) it writes
 * the dead-letter view before BullMQ marks the job failed (so a reader that sees the task failed
 * finds it in the view), and again on BullMQ's `failed` event if that write failed; a task BullMQ
 * fails for stalling too often enters the view just after. `onSettled` is called on BullMQ's
 * `completed` / `failed` events (the outcome stored), or after a hand-back.
 *
 * @example
 * const worker = new RedisTaskWorker(loadBullMQ(), connection.createQueueClient(), options, hooks, processor);
 * await worker.close(10_000);
 */
export class RedisTaskWorker implements TaskWorker {
  private readonly logger = new Logger('Coordination:Tasks');
  /** The BullMQ Worker, once bullmq is imported (undefined if that failed or close() came first). */
  private readonly started: Promise<HaltableWorker<TaskJob['data'], unknown> | undefined>;
  private bull?: BullMQ;
  private readonly running = new Set<LazyAbort>();
  /** Attempts finished by the processor, by BullMQ job id, until their event (see Finished). */
  private readonly finished = new Map<string, Finished>();
  /** Set once close() gave up waiting: attempts that fail from then on were cut off, not failed. */
  private cutOff = false;
  private lastErrorLogMs = 0;
  private closing?: Promise<void>;

  constructor(
    bullmq: Promise<BullMQ>,
    private readonly connection: RedisClient,
    private readonly options: RedisTaskWorkerOptions,
    private readonly hooks: TaskRunHooks,
    private readonly processor: TaskProcessor,
  ) {
    this.started = bullmq.then((bull) => (this.closing ? undefined : this.start(bull, connection)), (error: unknown) => {
      this.logger.error(`Task worker of ${JSON.stringify(options.name)} not started: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    });
  }

  private start(bull: BullMQ, connection: RedisClient): HaltableWorker<TaskJob['data'], unknown> {
    const { options } = this;
    this.bull = bull;
    // (job, token): BullMQ then tracks no abort controller of its own per job (the signal is ours).
    const Worker = haltable(bull);
    const worker = new Worker<TaskJob['data'], unknown>(options.queueName, (job, token) => this.run(job as TaskJob, token), {
      connection: connection as never,
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: options.maxStalledCount,
    });
    worker.on('error', (error) => this.logError(error));
    // A task that stalled more often than maxStalledCount is failed by BullMQ when next fetched,
    // without reaching the processor: it enters the dead-letter view here (after the move).
    worker.on('failed', (job) => {
      if (!job) return;
      const tenant = (job as TaskJob).data.t;
      const jobId = job.id!.slice(tenant.length + 1);
      if (job.deferredFailure) this.hooks.finalFailure(options.name, tenant, jobId).catch(() => this.hooks.finalFailureAgain(options.name, tenant, jobId));
      const finished = this.settle(job.id!);
      if (!finished) return;
      if (finished.viewPending) void this.hooks.finalFailureAgain(options.name, tenant, jobId);
      this.report(finished, finished.final ? 'failed' : 'retrying');
    });
    worker.on('completed', (job) => {
      const finished = this.settle(job.id!);
      if (finished) this.report(finished, 'completed');
    });
    return worker;
  }

  /**
   * Stops fetching, waits up to `timeoutMs` for running tasks, then aborts their signals and
   * returns. A cut-off task whose handler then throws goes back to waiting without spending an
   * attempt (see handBack); one whose handler still returns is completed.
   */
  close(timeoutMs: number): Promise<void> {
    this.closing ??= this.shutdown(timeoutMs);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    const worker = await this.started;
    if (!worker) return;
    const closed = worker.close().catch((error) => this.logError(error));
    // Idle with Redis unreachable: nothing to wait for (no task runs, and none can be fetched).
    const idleAndDown = this.running.size === 0 && this.connection.status !== 'ready';
    if (!idleAndDown && (await settlesWithin(closed, timeoutMs))) return;
    // Cut off: the tasks still running are run again (their locks lapse: a peer's stalled check
    // puts them back, or this worker's after a restart).
    this.cutOff = true;
    for (const controller of this.running) controller.abort(new Error('task worker closed'));
    // Handlers that stop on the signal hand their tasks back (see handBack), if Redis answers.
    if (!idleAndDown && (await settlesWithin(closed, DISCONNECT_GRACE_MS))) return;
    // BullMQ's close waits for its fetch loop, and its disconnect for an `end` that ioredis never
    // emits for a connection waiting to reconnect: neither may hold up shutdown. Drop the
    // connections, and stop the worker's own timers (lock renewal, stalled check) if its close
    // still has not finished, so that none of them keeps the process alive.
    worker.disconnect().catch((error: unknown) => this.logError(error));
    if (!(await settlesWithin(closed, DISCONNECT_GRACE_MS))) worker.halt();
  }

  /**
   * Not async: a task that succeeds costs one `then` on the processor's promise (every promise
   * is tracked by the tenant context's async hooks, so fewer per task count).
   */
  private run(job: TaskJob, token?: string): Promise<unknown> {
    const { name } = this.options;
    const tenant = job.data.t;
    const jobId = job.id!.slice(tenant.length + 1);
    if (job.attemptsStarted === 1 || job.stalledCounter > 0) this.hooks.firstStart(name, tenant, jobId);
    const abort = new LazyAbort();
    this.running.add(abort);
    const task = runningTask(name, tenant, jobId, job, abort);
    const startMs = performance.now();
    let pending: Promise<unknown>;
    try {
      pending = this.processor(task);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(
      (value) => {
        const invalid = unstorable(value);
        if (invalid) return this.failed(invalid, job, token, task, startMs, abort);
        this.running.delete(abort);
        if (this.options.onSettled) this.finished.set(job.id!, { task, runMs: performance.now() - startMs, final: false, viewPending: false });
        return value;
      },
      (error: unknown) => this.failed(error, job, token, task, startMs, abort),
    );
  }

  /** A failed attempt: handed back if the close cut it off, else recorded (see failure). */
  private async failed(error: unknown, job: TaskJob, token: string | undefined, task: RunningTask, startMs: number, abort: LazyAbort): Promise<never> {
    const runMs = performance.now() - startMs;
    try {
      if (this.cutOff && abort.aborted) throw await this.handBack(job, token, task, runMs);
      throw await this.failure(error, job, task, runMs);
    } finally {
      this.running.delete(abort);
    }
  }

  /** What BullMQ gets for a failed attempt; a last one enters the dead-letter view first. */
  private async failure(error: unknown, job: TaskJob, task: RunningTask, runMs: number): Promise<Error> {
    const unrecoverable = error instanceof UnrecoverableTaskError;
    const thrown = unrecoverable ? new this.bull!.UnrecoverableError(error.message) : asError(error);
    const final = unrecoverable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    let viewPending = false;
    if (final) {
      await this.hooks.finalFailure(this.options.name, task.tenant, task.jobId).catch((e: unknown) => {
        this.logError(e);
        viewPending = true;
      });
    }
    if (this.options.onSettled || viewPending) this.finished.set(job.id!, { task, runMs, final, viewPending });
    return thrown;
  }

  /**
   * An attempt the close cut off (its handler gave up on the aborted signal) goes back to waiting,
   * uncounted, at the front of its priority; WaitingError tells BullMQ to record nothing. If the
   * move fails, the job stays active until its lock lapses and the stalled check puts it back.
   */
  private async handBack(job: TaskJob, token: string | undefined, task: RunningTask, runMs: number): Promise<Error> {
    const moved = await job.moveToWait(token).then(() => true, (e: unknown) => {
      this.logError(e);
      return false;
    });
    if (moved) this.report({ task, runMs, final: false, viewPending: false }, 'handed-back');
    return new this.bull!.WaitingError();
  }

  /** The finished attempt of BullMQ job `id`, taken out (undefined when none is kept). */
  private settle(id: string): Finished | undefined {
    const finished = this.finished.get(id);
    if (finished) this.finished.delete(id);
    return finished;
  }

  /** onSettled, which never throws into the worker. */
  private report(finished: Finished, outcome: AttemptOutcome): void {
    try {
      this.options.onSettled?.(finished.task, outcome, finished.runMs);
    } catch (error) {
      this.logError(error);
    }
  }

  private logError(error: unknown): void {
    const now = Date.now();
    if (now - this.lastErrorLogMs < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLogMs = now;
    this.logger.warn(`Task worker of ${JSON.stringify(this.options.name)}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function runningTask(name: string, tenant: string, jobId: string, job: TaskJob, abort: LazyAbort): RunningTask {
  const enqueuedAtMs = job.timestamp;
  return {
    name,
    jobId,
    tenant,
    payload: job.data.p,
    attempt: job.attemptsMade + 1,
    attempts: job.opts.attempts ?? 1,
    enqueuedAtMs,
    runAtMs: enqueuedAtMs + (job.opts.delay ?? 0),
    startedAtMs: job.processedOn ?? Date.now(),
    progress: (value) => job.updateProgress(value),
    traceparent: job.data.tp,
    get signal() {
      return abort.signal;
    },
  };
}
