import type { TaskBackoff, TaskState } from './task.types.js';

/**
 * The queue behind TaskService: BullMQ on the redis driver (RedisTaskBackend), an in-process queue
 * on the memory driver (MemoryTaskBackend). Both keep one contract (test/contract/stores/
 * task-backend.contract.ts). The service validates input and resolves the tenant; a backend gets
 * a valid name, tenant and job ids, and never mixes tenants: every method is scoped to the tenant
 * it is given, and a task of another tenant is "not found".
 *
 * Ordering (both backends): a waiting task with higher `priority` starts first; among equal
 * priorities the lower fairness tag (see `FairTags`), then the earlier enqueue.
 */
export interface TaskBackend {
  /**
   * Adds tasks of one name and tenant, in order. A task whose jobId already exists (in any state
   * the backend still keeps) is not added: its stored record is returned instead.
   * Throws RedisUnavailableError (never drops silently) when the queue cannot be reached.
   */
  add(name: string, tenant: string, tasks: readonly NewTask[]): Promise<StoredTask[]>;
  get(name: string, tenant: string, jobId: string): Promise<StoredTask | null>;
  /** Removes a waiting or delayed task. */
  cancel(name: string, tenant: string, jobId: string): Promise<CancelOutcome>;
  /** Moves a failed task (attempts exhausted) back to waiting with a fresh set of attempts. */
  retry(name: string, tenant: string, jobId: string): Promise<RetryOutcome>;
  /** The tenant's tasks of `name` that exhausted their attempts, most recently failed first. */
  failed(name: string, tenant: string, page: Page): Promise<StoredTask[]>;
  /** The tenant's tasks of `name` in any state, most recently enqueued first (kept ones only). */
  list(name: string, tenant: string, page: Page): Promise<StoredTask[]>;
  /**
   * The tenant's queue depth for `name`: its tasks enqueued without a delay, or put back by
   * `retry`, that have not started (delayed tasks and tasks waiting out a retry backoff excluded).
   * Tags restart at 1 when it is 0.
   */
  depth(name: string, tenant: string): Promise<number>;
  /**
   * Resolves with the task once it completed or finally failed; null when it does not exist.
   * Rejects with TaskTimeoutError after `timeoutMs`.
   */
  waitFor(name: string, tenant: string, jobId: string, timeoutMs: number): Promise<StoredTask | null>;
  /**
   * Starts running tasks of `name` of every tenant, at most `concurrency` at once, handing each to
   * `processor`: its resolved value completes the task, a rejection fails the attempt (retried
   * with backoff while attempts remain; an UnrecoverableTaskError fails it at once).
   */
  work(name: string, options: WorkOptions, processor: TaskProcessor): TaskWorker;
  /** Closes every worker (see TaskWorker.close) and connection the backend opened. */
  close(timeoutMs: number): Promise<void>;
}

/** Injection token of the TaskBackend. */
export const TASK_BACKEND = Symbol('TASK_BACKEND');

/** A task to add, with every default applied by the service. */
export interface NewTask {
  jobId: string;
  payload: unknown;
  /** -10..10, higher first. */
  priority: number;
  delayMs: number;
  attempts: number;
  backoff: TaskBackoff;
  /** W3C traceparent of the enqueue's span, when traced: the run's span is its child. */
  traceparent?: string;
}

/** A stored task: TaskInfo without the public `id`, with epoch-ms times. */
export interface StoredTask {
  name: string;
  jobId: string;
  tenant: string;
  state: TaskState;
  payload: unknown;
  priority: number;
  attemptsMade: number;
  attempts: number;
  progress: number | object;
  result?: unknown;
  failedReason?: string;
  enqueuedAtMs: number;
  runAtMs: number;
  startedAtMs?: number;
  finishedAtMs?: number;
  /** Set by `add` on a task that was already there (its jobId deduplicated): nothing was added. */
  existed?: true;
}

export type CancelOutcome = 'cancelled' | 'not-found' | { state: TaskState };
export type RetryOutcome = 'retried' | 'not-found' | { state: TaskState };

export interface Page {
  offset: number;
  limit: number;
}

export interface WorkOptions {
  concurrency: number;
  /**
   * Called once per attempt after the backend settled it (the task's new state is stored):
   * `completed`; `retrying` (failed, attempts remain: delayed for its backoff); `failed` (final:
   * attempts exhausted, UnrecoverableTaskError, or a result that could not be stored);
   * `handed-back` (cut off by a worker close: back to waiting, the attempt not counted).
   * `runMs` is the processor's duration. Never throws into the backend.
   */
  onSettled?(task: RunningTask, outcome: AttemptOutcome, runMs: number): void;
}

/** How the backend settled one attempt (see WorkOptions.onSettled). */
export type AttemptOutcome = 'completed' | 'retrying' | 'failed' | 'handed-back';

/** One attempt of a task, as a processor receives it. */
export interface RunningTask {
  name: string;
  jobId: string;
  tenant: string;
  payload: unknown;
  /** 1-based. */
  attempt: number;
  attempts: number;
  enqueuedAtMs: number;
  runAtMs: number;
  startedAtMs: number;
  progress(value: number | object): Promise<void>;
  /** Aborted when the worker is closed and its timeout passed with this attempt still running. */
  signal: AbortSignal;
  /** The enqueue's traceparent, when it was traced (NewTask.traceparent). */
  traceparent?: string;
}

export type TaskProcessor = (task: RunningTask) => Promise<unknown>;

export interface TaskWorker {
  /**
   * Stops taking tasks and waits up to `timeoutMs` for the running ones; then aborts their signals
   * and returns (a task cut off this way is run again: by a peer, or after a restart).
   */
  close(timeoutMs: number): Promise<void>;
}
