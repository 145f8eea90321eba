/**
 * Public types of the task queue (TaskService, @TaskHandler).
 *
 * A task is a unit of background work with a name (the queue), a JSON payload and a tenant. On the
 * redis driver the queue is BullMQ (one BullMQ queue per task name, shared by the tenants, ordered
 * by priority then by a per-tenant fairness tag); on the memory driver an in-process queue with the
 * same semantics. Delivery is at least once: a task whose worker died mid-run is run again.
 */

/**
 * A task name with the types of its payload and result, for typed enqueues and handlers. Create one
 * with `defineTask`.
 *
 * @example
 * export const AGENT_STEP = defineTask<{ runId: string; agent: string }, { tokens: number }>('agent.step');
 * await tasks.enqueue(AGENT_STEP, { runId, agent: 'planner' });
 */
export interface TaskDefinition<P = unknown, R = unknown> {
  readonly name: string;
  /** Phantom fields carrying the payload and result types; never set at runtime. */
  readonly __payload?: P;
  readonly __result?: R;
}

/** A task named by a string or a TaskDefinition. */
export type TaskRef<P = unknown, R = unknown> = string | TaskDefinition<P, R>;
/** The payload type of a TaskRef (`unknown` for a plain name). */
export type PayloadOf<T> = T extends TaskDefinition<infer P, unknown> ? P : unknown;
/** The result type of a TaskRef (`unknown` for a plain name). */
export type ResultOf<T> = T extends TaskDefinition<unknown, infer R> ? R : unknown;

/**
 * A task id, `<name>:<jobId>`: a string that carries the payload and result types of the task it
 * names (phantom, never set), so that `waitFor(task.id)` and `get(task.id)` are typed by the
 * `enqueue` that returned it. Any string is one (typed `unknown`).
 *
 * @example
 * const task = await tasks.enqueue(AGENT_STEP, payload); // task.id: TaskId<StepPayload, StepResult>
 * const done = await tasks.waitFor(task.id);              // TaskInfo<StepPayload, StepResult>
 */
export type TaskId<P = unknown, R = unknown> = string & { readonly __task?: [P, R] };

/** Where a task is: waiting to run (`waiting`), waiting for its delay or retry backoff (`delayed`), running, or finished. */
export type TaskState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

/**
 * How long to wait before attempt n+1 after attempt n failed: `fixed` waits `delayMs` each time,
 * `exponential` waits `delayMs * 2^(n-1)` (1 s, 2 s, 4 s, ... for `delayMs: 1000`).
 *
 * @example
 * await tasks.enqueue('email.send', mail, { attempts: 5, backoff: { type: 'exponential', delayMs: 500 } });
 */
export interface TaskBackoff {
  type: 'fixed' | 'exponential';
  delayMs: number;
}

/**
 * Options of one enqueued task.
 *
 * @example
 * await tasks.enqueue('report.build', { day }, { priority: 5, delayMs: 60_000, attempts: 3, jobId: `report-${day}` });
 */
export interface TaskOptions {
  /**
   * An integer from -10 to 10; **higher runs first** (10 most urgent, -10 background), default 0.
   * Priority orders tasks of the same name across tenants; among equal priorities the fairness
   * tag and then the enqueue order decide (see the README, "Tenant fairness").
   */
  priority?: number;
  /** Run no earlier than this many ms from now. Default 0. */
  delayMs?: number;
  /** Attempts in all, the first included (1 = no retry). Default: `tasks.attempts` (3). */
  attempts?: number;
  /** Wait between attempts. Default: `tasks.backoff` (exponential from 1 s). */
  backoff?: TaskBackoff;
  /**
   * Your id for the task, unique per tenant and task name: enqueuing an id that is already queued,
   * running or kept after it finished returns that task instead of adding one (deduplication).
   * 1-128 characters, no `:` and no control characters. Default: a random UUID.
   */
  jobId?: string;
}

/**
 * Options of `enqueue` / `enqueueMany`: the task options plus the tenant.
 *
 * @example
 * await tasks.enqueue('agent.step', payload, { tenant: 'acme', priority: 2 });
 */
export interface EnqueueOptions extends TaskOptions {
  /** The tenant the task belongs to and runs as (default: the current tenant). */
  tenant?: string;
}

/**
 * One task of `enqueueMany`.
 *
 * @example
 * await tasks.enqueueMany('agent.step', agents.map((agent) => ({ payload: { runId, agent } })));
 */
export interface TaskItem<P = unknown> extends TaskOptions {
  payload: P;
}

/**
 * A task as stored: what `enqueue`, `get`, `list`, `failed` and `waitFor` return.
 *
 * @example
 * const task = await tasks.get(id);
 * if (task?.state === 'failed') console.warn(task.failedReason);
 */
export interface TaskInfo<P = unknown, R = unknown> {
  /** `<name>:<jobId>`: pass it to `get`, `cancel`, `retry`, `waitFor`. */
  readonly id: TaskId<P, R>;
  readonly name: string;
  /** Your `jobId`, or the generated one. */
  readonly jobId: string;
  /** The tenant the task belongs to; absent when it belongs to no tenant (enqueued outside any tenant). */
  readonly tenant?: string;
  readonly state: TaskState;
  readonly payload: P;
  /** -10..10, higher first. */
  readonly priority: number;
  /** Attempts started so far (0 while it never ran). */
  readonly attemptsMade: number;
  /** Attempts allowed in all. */
  readonly attempts: number;
  /** The last value the handler reported with `context.progress()` (0 until then). */
  readonly progress: number | object;
  /** The handler's return value, once completed. */
  readonly result?: R;
  /** The last failed attempt's message: set while the task is failed or waiting to retry. */
  readonly failedReason?: string;
  readonly enqueuedAt: Date;
  /** When it may run first (enqueuedAt + delayMs). */
  readonly runAt: Date;
  /** When its last attempt started. */
  readonly startedAt?: Date;
  /** When it completed or finally failed. */
  readonly finishedAt?: Date;
}

/**
 * What a task handler receives besides the payload.
 *
 * @example
 * @TaskHandler(AGENT_STEP, { concurrency: 4 })
 * async step(payload: StepPayload, task: TaskContext) {
 *   await task.progress(50);
 *   if (task.signal.aborted) return;
 * }
 */
export interface TaskContext {
  readonly id: string;
  readonly name: string;
  readonly jobId: string;
  /** The tenant the task belongs to (and runs as); absent when it belongs to no tenant (enqueued outside any tenant). */
  readonly tenant?: string;
  /** 1 on the first attempt. */
  readonly attempt: number;
  readonly attempts: number;
  readonly enqueuedAt: Date;
  /** Reports progress (a number, e.g. a percentage, or a small JSON object), visible through `get`. */
  progress(value: number | object): Promise<void>;
  /** Aborted when the application shuts down and the shutdown timeout passes with this task still running. */
  readonly signal: AbortSignal;
}

/**
 * Options of `@TaskHandler`.
 *
 * @example
 * @TaskHandler('email.send', { concurrency: 10 })
 */
export interface TaskHandlerOptions {
  /** Tasks of this name this instance runs at once. Default: `tasks.concurrency` (1). */
  concurrency?: number;
}

/**
 * Paging of `list` and `failed`: newest first.
 *
 * @example
 * const page = await tasks.list('agent.step', { limit: 20, offset: 20 });
 */
export interface TaskPageOptions {
  /** Default 20, at most 1000. */
  limit?: number;
  /** Tasks to skip from the newest. Default 0. */
  offset?: number;
  tenant?: string;
}

/**
 * Options of `waitFor`.
 *
 * @example
 * const done = await tasks.waitFor(id, { timeoutMs: 30_000 });
 */
export interface WaitForOptions {
  /** Give up after this many ms with TaskTimeoutError. Default 30_000. */
  timeoutMs?: number;
  tenant?: string;
}

/** Options naming only the tenant (`get`, `cancel`, `retry`, `depth`). */
export interface TaskTenantOption {
  tenant?: string;
}
