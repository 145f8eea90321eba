import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { TASK_BACKEND, type CancelOutcome, type NewTask, type RetryOutcome, type StoredTask, type TaskBackend } from './task-backend.interface.js';
import { toInfo } from './task-info.js';
import { TaskObserver } from './task-observer.js';
import { PendingWaits } from './task-waits.js';
import { TASK_ENQUEUE } from './task.spans.js';
import { TaskNotFoundError, TaskStateError } from './task.errors.js';
import { TASK_OPTIONS, type ResolvedTaskOptions } from './task.options.js';
import type { EnqueueOptions, TaskId, TaskInfo, TaskItem, TaskPageOptions, TaskRef, TaskTenantOption, WaitForOptions } from './task.types.js';
import { checkJobId, checkKeys, checkOptions, checkPage, checkPayload, checkWaitTimeout, OPTION_KEYS, parseTaskId, taskName, taskSettings } from './task-validation.js';

/**
 * The task queue: background work with priorities, delays, retries with backoff and a dead-letter
 * view, run by `@TaskHandler` methods of any instance. On the redis driver it is BullMQ (one
 * queue per task name shared by the tenants, fair between them); on the memory driver an
 * in-process queue with the same semantics.
 *
 * - **Ids**: a task's id is `<name>:<jobId>` (`jobId` yours or a random UUID); pass it to `get`,
 *   `cancel`, `retry`, `waitFor`. Ids are per tenant: another tenant's task is not found.
 * - **Tenants**: every method works on the tasks of the call's tenant (`options.tenant`, else the
 *   tenant context); a task's handler runs in its tenant's context. A task enqueued outside any
 *   tenant belongs to the shared namespace: its `tenant` is absent, and calls outside any tenant
 *   (no `options.tenant`) reach it.
 * - **Throwing**: `cancel` / `retry` throw TaskNotFoundError or TaskStateError; `waitFor` throws
 *   TaskTimeoutError; `get` returns null. `enqueue` throws RedisUnavailableError when Redis is
 *   unreachable (never a silent drop). Bad input throws InvalidArgumentError naming the argument
 *   (or TenantInvalidError, TenantRequiredError) before any Redis call; so does an unknown option
 *   key (`options.prio`, `items[0].tenant`).
 * - **Shutdown**: workers stop taking tasks and wait for the running ones (bounded by
 *   `tasks.shutdownTimeoutMs`) before the connection closes; a `waitFor` still pending then (or
 *   called after) rejects with TaskShutdownError.
 *
 * @example
 * const AGENT_STEP = defineTask<{ runId: string; agent: string }, { tokens: number }>('agent.step');
 * const task = await tasks.enqueue(AGENT_STEP, { runId, agent: 'planner' }, { priority: 5, attempts: 3 });
 * const done = await tasks.waitFor(task.id, { timeoutMs: 60_000 });
 * if (done.state === 'completed') this.tokensUsed += done.result?.tokens ?? 0;
 */
@Injectable()
export class TaskService implements BeforeApplicationShutdown {
  private readonly waits = new PendingWaits();

  constructor(
    private readonly core: CoordinationCore,
    @Inject(TASK_OPTIONS) private readonly options: ResolvedTaskOptions,
    @Inject(TASK_BACKEND) private readonly backend: TaskBackend,
    private readonly observer: TaskObserver,
  ) {}

  /**
   * Enqueues one task for the call's tenant and returns it as stored. With a `jobId` that the
   * tenant's queue of this name still keeps, returns that task instead (deduplication).
   *
   * @example
   * const task = await tasks.enqueue('email.send', { to }, { priority: 5, delayMs: 60_000, jobId: `welcome-${userId}` });
   */
  async enqueue<P = unknown, R = unknown>(task: TaskRef<P, R>, payload: NoInfer<P>, options?: EnqueueOptions): Promise<TaskInfo<P, R>> {
    const name = taskName(task);
    checkPayload(payload, 'payload');
    checkOptions(options, 'options', OPTION_KEYS.enqueue);
    const added = this.newTask(payload, options, 'options');
    const tenant = this.core.tenants.resolve(options?.tenant, 'tasks.enqueue');
    const [stored] = await this.add(name, tenant, [added]);
    return toInfo<P, R>(stored);
  }

  /**
   * Enqueues several tasks of one name for the call's tenant, in order (one round trip on the
   * redis driver), and returns them as stored. A bad item throws naming it (`items[3].priority`,
   * `items[0].tenant`: the tenant is the call's, in `options`) before anything is enqueued.
   *
   * @example
   * await tasks.enqueueMany(AGENT_STEP, agents.map((agent) => ({ payload: { runId, agent }, jobId: `${runId}-${agent}` })));
   */
  async enqueueMany<P = unknown, R = unknown>(task: TaskRef<P, R>, items: ReadonlyArray<TaskItem<NoInfer<P>>>, options?: TaskTenantOption): Promise<Array<TaskInfo<P, R>>> {
    const name = taskName(task);
    if (!Array.isArray(items)) throw new InvalidArgumentError('items', 'must be an array of { payload, ...options }');
    checkOptions(options, 'options', OPTION_KEYS.tenant);
    const added = new Array<NewTask>(items.length);
    for (let index = 0; index < items.length; index++) {
      const item: TaskItem<P> = items[index];
      // Argument names are built only for an error: this loop runs once per task.
      const argument = () => `items[${index}]`;
      if (item === undefined) throw new InvalidArgumentError(argument(), 'must be an object');
      if (typeof item !== 'object' || item === null || Array.isArray(item)) checkOptions(item, argument(), OPTION_KEYS.item);
      checkKeys(item, argument, OPTION_KEYS.item);
      checkPayload(item.payload, () => `${argument()}.payload`);
      added[index] = this.newTask(item.payload, item, argument);
    }
    const tenant = this.core.tenants.resolve(options?.tenant, 'tasks.enqueueMany');
    if (added.length === 0) return [];
    return (await this.add(name, tenant, added, 'tasks.enqueueMany')).map((stored) => toInfo<P, R>(stored));
  }

  /**
   * The task with this id of the call's tenant, or null (unknown, removed after it finished, or
   * another tenant's).
   *
   * @example
   * const task = await tasks.get(id);
   * if (task?.state === 'failed') console.warn(task.failedReason);
   */
  async get<P = unknown, R = unknown>(id: TaskId<P, R>, options?: TaskTenantOption): Promise<TaskInfo<P, R> | null> {
    const { name, jobId, tenant } = this.target(id, options, 'tasks.get');
    const stored = await this.observer.run('tasks.get', () => this.backend.get(name, tenant, jobId));
    return stored === null ? null : toInfo<P, R>(stored);
  }

  /**
   * Removes a waiting or delayed task. TaskNotFoundError when the tenant has no such task,
   * TaskStateError when it is running or finished.
   *
   * @example
   * await tasks.cancel(task.id);
   */
  async cancel(id: string, options?: TaskTenantOption): Promise<void> {
    const { name, jobId, tenant } = this.target(id, options, 'tasks.cancel');
    outcome(id, 'cancel', await this.observer.run('tasks.cancel', () => this.backend.cancel(name, tenant, jobId)));
  }

  /**
   * Runs a failed task (attempts exhausted) again with a fresh set of attempts, and removes it from
   * the failed view. TaskNotFoundError when the tenant has no such task, TaskStateError when it
   * has not failed.
   *
   * @example
   * for (const task of await tasks.failed('email.send')) await tasks.retry(task.id);
   */
  async retry(id: string, options?: TaskTenantOption): Promise<void> {
    const { name, jobId, tenant } = this.target(id, options, 'tasks.retry');
    outcome(id, 'retry', await this.observer.run('tasks.retry', () => this.backend.retry(name, tenant, jobId)));
  }

  /**
   * The dead-letter view: the tenant's tasks of `task` that failed for good (attempts exhausted,
   * or UnrecoverableTaskError), most recently failed first; `limit` (default 20) and `offset` page.
   *
   * @example
   * const dead = await tasks.failed(AGENT_STEP, { limit: 50 });
   */
  async failed<P = unknown, R = unknown>(task: TaskRef<P, R>, options?: TaskPageOptions): Promise<Array<TaskInfo<P, R>>> {
    const { name, page, tenant } = this.paged(task, options, 'tasks.failed');
    return (await this.observer.run('tasks.failed', () => this.backend.failed(name, tenant, page))).map((stored) => toInfo<P, R>(stored));
  }

  /**
   * The tenant's tasks of `task` in any state (those the queue still keeps), most recently
   * enqueued first; `limit` (default 20) and `offset` page.
   *
   * @example
   * const page = await tasks.list('agent.step', { limit: 20, offset: 20 });
   */
  async list<P = unknown, R = unknown>(task: TaskRef<P, R>, options?: TaskPageOptions): Promise<Array<TaskInfo<P, R>>> {
    const { name, page, tenant } = this.paged(task, options, 'tasks.list');
    return (await this.observer.run('tasks.list', () => this.backend.list(name, tenant, page))).map((stored) => toInfo<P, R>(stored));
  }

  /**
   * The tenant's queue depth for `task`: its tasks enqueued without a delay, or put back by
   * `retry`, that have not started. Delayed tasks (`delayMs`) and tasks waiting out a retry
   * backoff do not count until they run.
   *
   * @example
   * if ((await tasks.depth('report.build')) > 1_000) throw new ServiceUnavailableException();
   */
  async depth(task: TaskRef, options?: TaskTenantOption): Promise<number> {
    const name = taskName(task);
    checkOptions(options, 'options', OPTION_KEYS.tenant);
    const tenant = this.core.tenants.resolve(options?.tenant, 'tasks.depth');
    return this.observer.run('tasks.depth', () => this.backend.depth(name, tenant));
  }

  /**
   * Resolves with the task once it completed or failed for good (check `state`). TaskTimeoutError
   * after `timeoutMs` (default 30 s; the task goes on), TaskNotFoundError when the tenant has no
   * such task, TaskShutdownError when the application shuts down meanwhile (or has).
   *
   * @example
   * const done = await tasks.waitFor(task.id, { timeoutMs: 60_000 }); // typed by the enqueue that returned `task`
   */
  async waitFor<P = unknown, R = unknown>(id: TaskId<P, R>, options?: WaitForOptions): Promise<TaskInfo<P, R>> {
    const { name, jobId, tenant } = this.target(id, options, 'tasks.waitFor', OPTION_KEYS.waitFor);
    const timeoutMs = checkWaitTimeout(options?.timeoutMs);
    this.waits.assertOpen(id);
    const stored = await this.waits.track(id, this.observer.run('tasks.waitFor', () => this.backend.waitFor(name, tenant, jobId, timeoutMs)));
    if (stored === null) throw new TaskNotFoundError(id);
    return toInfo<P, R>(stored);
  }

  /**
   * Closes the workers (running tasks finish, bounded by `tasks.shutdownTimeoutMs`) before the
   * connection closes, then rejects the pending `waitFor` calls with TaskShutdownError.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.waits.closing();
    try {
      await this.backend.close(this.options.shutdownTimeoutMs);
    } finally {
      this.waits.closed();
    }
  }

  private newTask(payload: unknown, options: EnqueueOptions | TaskItem | undefined, prefix: string | (() => string)): NewTask {
    const jobId = options?.jobId === undefined ? randomUUID() : checkJobId(options.jobId, `${typeof prefix === 'string' ? prefix : prefix()}.jobId`);
    // Field by field: a spread copy of the settings costs more, and enqueueMany builds one per task.
    const settings = taskSettings(options, this.options, prefix);
    return { jobId, payload, priority: settings.priority, delayMs: settings.delayMs, attempts: settings.attempts, backoff: settings.backoff };
  }

  private async add(name: string, tenant: string, tasks: NewTask[], operation = 'tasks.enqueue'): Promise<StoredTask[]> {
    const { tracer } = this.core.telemetry;
    const stored = await tracer.trace(TASK_ENQUEUE, tenant, name, () => {
      // The enqueue's span travels with the tasks: each run is its child, on whichever instance.
      const traceparent = tracer.traceparent();
      if (traceparent !== undefined) for (const task of tasks) task.traceparent = traceparent;
      return this.observer.run(operation, () => this.backend.add(name, tenant, tasks));
    }, tasks.length);
    let added = 0;
    for (const task of stored) if (task.existed !== true) added++;
    // Deduplicated tasks (already there) were not enqueued: tasks_enqueued_total counts added ones.
    if (added > 0) this.observer.series(name, tenant).enqueued.add(added);
    return stored;
  }

  private target(id: string, options: TaskTenantOption | undefined, operation: string, known = OPTION_KEYS.tenant): { name: string; jobId: string; tenant: string } {
    const { name, jobId } = parseTaskId(id);
    checkOptions(options, 'options', known);
    return { name, jobId, tenant: this.core.tenants.resolve(options?.tenant, operation) };
  }

  private paged(task: TaskRef, options: TaskPageOptions | undefined, operation: string) {
    const name = taskName(task);
    checkOptions(options, 'options', OPTION_KEYS.page);
    const page = checkPage(options);
    return { name, page, tenant: this.core.tenants.resolve(options?.tenant, operation) };
  }
}

/** Throws what a cancel or retry outcome other than success means. */
function outcome(id: string, operation: 'cancel' | 'retry', result: CancelOutcome | RetryOutcome): void {
  if (result === 'not-found') throw new TaskNotFoundError(id);
  if (typeof result === 'object') throw new TaskStateError(id, operation, result.state);
}
