import type { Queue } from 'bullmq';
import type { RedisConnection } from '../connection/redis-connection.js';
import { bullJobId, taskStateOf, toStoredTask, type TaskJob, type TaskJobData } from './redis-task-records.js';
import type { Page, StoredTask } from './task-backend.interface.js';
import { TaskTimeoutError } from './task.errors.js';
import type { TaskState } from './task.types.js';

type TaskQueue = Queue<TaskJobData, unknown, string>;

/** What RedisTaskQueries.retry runs around BullMQ's move (the backend's own keys). */
export interface RetryHooks {
  before(): Promise<unknown>;
  undo(): Promise<unknown>;
}

/** `waitFor` polls the job with a backoff from the first to the last delay, ms. */
const POLL_FIRST_MS = 10;
const POLL_MAX_MS = 250;
/** Passes over a page whose entries BullMQ no longer has (each pass removes them). */
const PAGE_PASSES = 3;

/**
 * The reads and state changes of RedisTaskBackend that go through BullMQ's Queue (on the command
 * connection, through its breaker): get, list and failed pages, cancel, retry, and waitFor.
 *
 * waitFor polls the job (10 ms doubling to 250 ms) rather than subscribing with QueueEvents: no
 * blocking connection per task name, nothing to miss between the subscription and a first
 * read, and the same behaviour on a cluster; the cost is up to 250 ms of latency per wait.
 *
 * @example
 * const queries = new RedisTaskQueries(connection, (name) => backend.queue(name));
 * const task = await queries.get('email.send', 'acme', 'm-1');
 */
export class RedisTaskQueries {
  constructor(
    private readonly connection: RedisConnection,
    private readonly queueOf: (name: string) => Promise<TaskQueue>,
  ) {}

  async get(name: string, tenant: string, jobId: string): Promise<StoredTask | null> {
    const found = await this.read(name, tenant, jobId, 'tasks.get');
    return found && toStoredTask(name, jobId, found.job, found.state);
  }

  /** Deletes what is left of a job the cancel script took out of BullMQ's lists (its hash, logs). */
  async removeJob(name: string, bullId: string): Promise<void> {
    const queue = await this.queueOf(name);
    await this.connection.execute('tasks.cancel', () => queue.remove(bullId));
  }

  /**
   * Moves a failed task back to waiting with fresh attempts; `hooks.before` runs once the task is
   * found failed, just before the move, and `hooks.undo` when the move then fails.
   */
  async retry(name: string, tenant: string, jobId: string, hooks: RetryHooks): Promise<'retried' | 'not-found' | { state: TaskState }> {
    const found = await this.read(name, tenant, jobId, 'tasks.retry');
    if (!found) return 'not-found';
    if (found.state !== 'failed') return { state: found.state };
    await hooks.before();
    try {
      await this.connection.execute('tasks.retry', () => found.job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }));
    } catch (error) {
      await hooks.undo();
      const now = await this.read(name, tenant, jobId, 'tasks.retry');
      if (!now) return 'not-found';
      if (now.state !== 'failed') return { state: now.state };
      throw error;
    }
    return 'retried';
  }

  /**
   * A page of the tenant's zset `key` (its index, or its failed view with `only: 'failed'`), newest
   * first. Entries whose job BullMQ no longer has (or that are no longer `only`) are removed.
   */
  async page(name: string, tenant: string, key: string, page: Page, only?: TaskState): Promise<StoredTask[]> {
    const operation = only === 'failed' ? 'tasks.failed' : 'tasks.list';
    for (let pass = 1; ; pass++) {
      const ids = await this.connection.execute(operation, (c) => c.zrevrange(key, page.offset, page.offset + page.limit - 1));
      const found = await Promise.all(ids.map((id) => this.read(name, tenant, id, operation)));
      const stale = ids.filter((_, i) => !found[i] || (only !== undefined && found[i]!.state !== only));
      if (stale.length === 0 || pass === PAGE_PASSES) {
        return found.flatMap((f, i) => (f && !stale.includes(ids[i]) ? [toStoredTask(name, ids[i], f.job, f.state)] : []));
      }
      await this.connection.execute(operation, (c) => c.zrem(key, ...stale));
    }
  }

  /** Polls the task until it completed or failed (null when it does not exist), or `timeoutMs` passes. */
  async waitFor(name: string, tenant: string, jobId: string, timeoutMs: number): Promise<StoredTask | null> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = POLL_FIRST_MS; ; delay = Math.min(delay * 2, POLL_MAX_MS)) {
      const task = await this.get(name, tenant, jobId);
      if (!task || task.state === 'completed' || task.state === 'failed') return task;
      const left = deadline - Date.now();
      if (left <= 0) throw new TaskTimeoutError(`${name}:${jobId}`, timeoutMs);
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
    }
  }

  /**
   * The job and its state in one auto-pipelined round trip (two commands); null when BullMQ does
   * not have it. A job read before it finished whose state then reads finished is read again once,
   * so a finished task always comes with its finish time and result.
   */
  private async read(name: string, tenant: string, jobId: string, operation: string, again = true): Promise<{ job: TaskJob; state: TaskState } | null> {
    const queue = await this.queueOf(name);
    const id = bullJobId(tenant, jobId);
    const [job, bullState] = await this.connection.execute(operation, () => Promise.all([queue.getJob(id), queue.getJobState(id)]));
    const state = taskStateOf(bullState);
    if (again && job && (state === 'completed' || state === 'failed') && !job.finishedOn) return this.read(name, tenant, jobId, operation, false);
    return job && state ? { job: job as TaskJob, state } : null;
  }
}
