import { Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { RedisConnection } from '../connection/redis-connection.js';
import type { CoordinationCore } from '../core/coordination-core.js';
import { loadBullMQ } from './redis-task-bullmq.js';
import { RedisTaskQueries } from './redis-task-queries.js';
import { RedisTaskStarts } from './redis-task-starts.js';
import { bullJobId, freshStoredTask, JOB_NAME, jobData, jobOptions, toStoredTask, type TaskJob, type TaskJobData } from './redis-task-records.js';
import { RedisTaskWorker } from './redis-task-worker.js';
import type {
  CancelOutcome, NewTask, Page, RetryOutcome, StoredTask, TaskBackend, TaskProcessor, TaskWorker, WorkOptions,
} from './task-backend.interface.js';
import { TaskKeys } from './task-keys.js';
import { TAG_LIMIT } from './task-priority.js';
import type { ResolvedTaskOptions } from './task.options.js';
import { TASK_SCRIPTS as S } from './task.scripts.js';

type TaskQueue = Queue<TaskJobData, unknown, string>;

/** TTL of a fairness hash (the last tag given), refreshed on each write. */
export const FAIR_TTL_MS = 86_400_000;
/** A waiting-set entry younger than this is never healed by `add` (its own `addBulk` may be pending). */
export const HEAL_GRACE_MS = 60_000;
/** An index entry without a job younger than this is a concurrent add's, whose addBulk is pending (see add.lua). */
const CLAIM_MS = 10_000;
/** How long `add` waits for a concurrent add of the same new job id to store it, then adds it itself. */
const CLAIM_WAIT_MS = 2_000;
/** Tries of a dead-letter view write that failed, again on BullMQ's `failed` event (backoff doubling from 100 ms). */
const FAIL_VIEW_TRIES = 5;
/** Newest job ids a tenant's index keeps per task name (what `list` can page through). */
export const INDEX_CAP = 10_000;

/**
 * The task queue on BullMQ: one Queue per task name (prefix `<prefix>:_shared:tasks-bullmq`, queue name
 * `{name}`: one cluster slot per name, no ioredis keyPrefix), shared by the tenants; BullMQ job id
 * `<tenant>~<jobId>`, data `{ t: tenant, p: payload }`.
 *
 * Connections: the Queues (enqueue, reads, cancel, retry) run on the module's command connection,
 * through its circuit breaker and command timeout, so an unreachable Redis fails `add` with
 * RedisUnavailableError (`tasks.enqueue`) instead of queueing it; BullMQ defines its scripts on
 * that connection (a Queue whose setup failed is dropped: the next call makes a new one). Each
 * worker gets its own `queue` connection (no retry limit, as BullMQ requires; BullMQ duplicates it
 * for the blocking fetch), released by its close: a cut-off close disconnects it, and only it.
 *
 * Per add: one script (fairness tags, waiting set, index; it also skips job ids BullMQ has) and
 * one `addBulk` pipeline. Per task run: BullMQ's own commands plus, on a first start, a share of
 * one fire-and-forget script (RedisTaskStarts). Reads are in RedisTaskQueries, the worker in
 * RedisTaskWorker.
 *
 * The waiting set (`depth`, and whether a tenant's tags restart at 1) holds the job ids of the
 * tenant's tasks enqueued without a delay (or put back by `retry`) that have not started. Where it
 * may be off: an entry whose `addBulk` never ran (Redis lost in between), or whose first-start
 * removal is still being resent; `add` heals the oldest such entries (older than HEAL_GRACE_MS,
 * their job in none of BullMQ's waiting lists). The index and the failed view have no TTL: they
 * are bounded by INDEX_CAP and `keepFailed`, and their entries whose job BullMQ dropped are
 * removed when read.
 *
 * @example
 * const backend = new RedisTaskBackend(core, resolveTaskOptions({ concurrency: 4 }));
 * await backend.add('email.send', 'acme', [{ jobId: 'm-1', payload, priority: 0, delayMs: 0, attempts: 3, backoff }]);
 * backend.work('email.send', { concurrency: 4 }, async (task) => send(task.payload));
 */
export class RedisTaskBackend implements TaskBackend {
  private readonly logger = new Logger('Coordination:Tasks');
  private readonly connection: RedisConnection;
  private readonly keys: TaskKeys;
  private readonly prefix: string;
  private readonly queues = new Map<string, Promise<TaskQueue>>();
  /** The close of each running worker (it releases the worker's connection). */
  private readonly workers = new Set<(timeoutMs: number) => Promise<void>>();
  private readonly queries: RedisTaskQueries;
  private readonly starts: RedisTaskStarts;

  constructor(core: CoordinationCore, private readonly options: ResolvedTaskOptions) {
    if (!core.connection) throw new Error('RedisTaskBackend needs the redis driver');
    this.connection = core.connection;
    this.keys = new TaskKeys(core.keys);
    this.prefix = this.keys.bullPrefix();
    this.queries = new RedisTaskQueries(this.connection, (name) => this.queue(name));
    this.starts = new RedisTaskStarts(this.connection);
  }

  add(name: string, tenant: string, tasks: readonly NewTask[]): Promise<StoredTask[]> {
    return this.addOnce(name, tenant, tasks, true);
  }

  private async addOnce(name: string, tenant: string, tasks: readonly NewTask[], again: boolean): Promise<StoredTask[]> {
    if (tasks.length === 0) return [];
    if (this.starts.size > 0) this.starts.flush();
    // Before the tags are counted: a missing bullmq must not leave them counted.
    const queue = await this.queue(name);
    const keys = this.keys.ofTenant(tenant, name);
    const bull = this.keys.bull(name);
    const scriptKeys = [keys.fair, keys.index, keys.waiting, bull.wait, bull.prioritized];
    let delayed = '';
    for (const task of tasks) {
      scriptKeys.push(bull.job(bullJobId(tenant, task.jobId)));
      delayed += task.delayMs > 0 ? '1' : '0';
    }
    const args = [bullJobId(tenant, ''), Date.now(), INDEX_CAP, FAIR_TTL_MS, TAG_LIMIT, delayed, HEAL_GRACE_MS, again ? CLAIM_MS : 0, ...tasks.map((t) => t.jobId)];
    const tags = await this.connection.runScript<number[]>(S.add, scriptKeys, args);
    // The common case (every job id new): one addBulk, each task stored as it was sent.
    if (tags.every((tag) => tag > 0)) return this.addFresh(queue, name, tenant, tasks, tags);
    const fresh = tasks.filter((_, i) => tags[i] > 0);
    const freshTags = tags.filter((tag) => tag > 0);
    const added = fresh.length === 0 ? [] : await this.connection.execute('tasks.enqueue', () =>
      queue.addBulk(fresh.map((task, i) => ({ name: JOB_NAME, data: jobData(tenant, task), opts: jobOptions(tenant, task, freshTags[i]) }))),
    );
    const byJobId = new Map<string, StoredTask>();
    added.forEach((job, i) => byJobId.set(fresh[i].jobId, toStoredTask(name, fresh[i].jobId, job as TaskJob, fresh[i].delayMs > 0 ? 'delayed' : 'waiting')));
    const existing = tasks.filter((t) => !byJobId.has(t.jobId));
    const claimed = new Set(tasks.filter((_, i) => tags[i] < 0).map((t) => t.jobId));
    const found = await Promise.all(existing.map((t) => (claimed.has(t.jobId) ? this.claimed(name, tenant, t.jobId) : this.get(name, tenant, t.jobId))));
    const gone: NewTask[] = [];
    existing.forEach((task, i) => (found[i] ? byJobId.set(task.jobId, { ...found[i]!, existed: true }) : gone.push(task)));
    // Removed between the check and the read (kept-limit trimming): added anew, as BullMQ would (once).
    if (gone.length > 0 && !again) throw new Error(`Tasks ${gone.map((t) => t.jobId).join(', ')} of ${JSON.stringify(name)} exist in BullMQ in no known state`);
    if (gone.length > 0) (await this.addOnce(name, tenant, gone, false)).forEach((task) => byJobId.set(task.jobId, task));
    return tasks.map((t) => byJobId.get(t.jobId)!);
  }

  private async addFresh(queue: TaskQueue, name: string, tenant: string, tasks: readonly NewTask[], tags: readonly number[]): Promise<StoredTask[]> {
    const jobs = new Array<{ name: string; data: TaskJobData; opts: ReturnType<typeof jobOptions> }>(tasks.length);
    for (let i = 0; i < tasks.length; i++) jobs[i] = { name: JOB_NAME, data: jobData(tenant, tasks[i]), opts: jobOptions(tenant, tasks[i], tags[i]) };
    const added = await this.connection.execute('tasks.enqueue', () => queue.addBulk(jobs));
    const stored = new Array<StoredTask>(tasks.length);
    for (let i = 0; i < tasks.length; i++) stored[i] = freshStoredTask(name, tenant, tasks[i], added[i].timestamp);
    return stored;
  }

  /** A task a concurrent add claimed (see add.lua), once it stored it; null if it did not within CLAIM_WAIT_MS. */
  private async claimed(name: string, tenant: string, jobId: string): Promise<StoredTask | null> {
    const deadline = Date.now() + CLAIM_WAIT_MS;
    for (let delay = 5; ; delay *= 2) {
      const task = await this.get(name, tenant, jobId);
      if (task || Date.now() >= deadline) return task;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  get(name: string, tenant: string, jobId: string): Promise<StoredTask | null> {
    return this.queries.get(name, tenant, jobId);
  }

  /**
   * Atomic: the script takes the job out of BullMQ's wait list, prioritized or delayed zset only
   * if it is there (so a task that started or completed meanwhile is never removed), then
   * `Job.remove` deletes the rest. Otherwise its state decides.
   */
  async cancel(name: string, tenant: string, jobId: string): Promise<CancelOutcome> {
    const keys = this.keys.ofTenant(tenant, name);
    const bull = this.keys.bull(name);
    const id = bullJobId(tenant, jobId);
    const cancelKeys = [bull.wait, bull.prioritized, bull.delayed, keys.waiting, keys.index];
    for (let tries = 1; ; tries++) {
      const taken = await this.connection.runScript<number>(S.cancel, cancelKeys, [id, jobId]);
      if (taken === 1) {
        await this.queries.removeJob(name, id).catch((error: unknown) => this.logger.warn(`Cancelled task ${name}:${jobId} not deleted: ${String(error)}`));
        return 'cancelled';
      }
      const task = await this.get(name, tenant, jobId);
      if (!task) return 'not-found';
      // Waiting again in between (a retry, a hand-back): try once more.
      if ((task.state !== 'waiting' && task.state !== 'delayed') || tries === 3) return { state: task.state };
    }
  }

  /**
   * Puts the job id in the waiting set (and takes it out of the failed view) before BullMQ moves
   * it: a worker may start it at once, and its first-start removal must find it there (a task
   * first enqueued with a delay included). Undone when the move does not happen (back in the failed view, whose reads skip it if it is no
   * longer failed).
   */
  retry(name: string, tenant: string, jobId: string): Promise<RetryOutcome> {
    const keys = this.keys.ofTenant(tenant, name);
    return this.queries.retry(name, tenant, jobId, {
      before: () => this.connection.runScript(S.retry, [keys.failed, keys.waiting], [jobId, Date.now()]),
      undo: () => Promise.all([
        this.connection.runScript(S.start, [keys.waiting], [jobId]),
        this.finalFailure(name, tenant, jobId),
      ]),
    });
  }

  failed(name: string, tenant: string, page: Page): Promise<StoredTask[]> {
    return this.queries.page(name, tenant, this.keys.ofTenant(tenant, name).failed, page, 'failed');
  }

  list(name: string, tenant: string, page: Page): Promise<StoredTask[]> {
    return this.queries.page(name, tenant, this.keys.ofTenant(tenant, name).index, page);
  }

  async depth(name: string, tenant: string): Promise<number> {
    if (this.starts.size > 0) this.starts.flush();
    return this.connection.execute('tasks.depth', (c) => c.zcard(this.keys.ofTenant(tenant, name).waiting));
  }

  waitFor(name: string, tenant: string, jobId: string, timeoutMs: number): Promise<StoredTask | null> {
    return this.queries.waitFor(name, tenant, jobId, timeoutMs);
  }

  work(name: string, options: WorkOptions, processor: TaskProcessor): TaskWorker {
    // Its own connection: a cut-off close disconnects it (BullMQ ends the client it was given).
    const client = this.connection.createQueueClient();
    const o = this.options;
    const worker = new RedisTaskWorker(loadBullMQ(), client, {
      name, queueName: this.keys.queueName(name), prefix: this.prefix, concurrency: options.concurrency,
      lockDurationMs: o.lockDurationMs, stalledIntervalMs: o.stalledIntervalMs, maxStalledCount: o.maxStalledCount,
      onSettled: options.onSettled,
    }, { firstStart: this.firstStart, finalFailure: this.finalFailure, finalFailureAgain: this.finalFailureAgain }, processor);
    const close = (timeoutMs: number) => worker.close(timeoutMs).finally(() => {
      this.workers.delete(close);
      return this.connection.releaseClient(client);
    });
    this.workers.add(close);
    return { close };
  }

  async close(timeoutMs: number): Promise<void> {
    await Promise.all([...this.workers].map((close) => close(timeoutMs)));
    this.workers.clear();
    this.starts.close();
    await Promise.all([...this.queues.values()].map((queue) => queue.then((q) => q.close()).catch(() => undefined)));
    this.queues.clear();
  }

  /** The Queue of a task name, created on first use on the command connection (bullmq is imported then). */
  private queue(name: string): Promise<TaskQueue> {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = loadBullMQ().then(({ Queue }) => {
        const created: TaskQueue = new Queue<TaskJobData, unknown, string>(this.keys.queueName(name), {
          connection: this.connection.client as never,
          prefix: this.prefix,
          defaultJobOptions: { removeOnComplete: { count: this.options.keepCompleted }, removeOnFail: { count: this.options.keepFailed } },
        });
        created.on('error', (error) => this.logger.debug(`Task queue ${JSON.stringify(name)}: ${error.message}`));
        // BullMQ's setup (its INFO, sent once connected) failing leaves the Queue broken for good:
        // dropped and closed, so the next call makes a new one (not awaited: while Redis is down
        // the setup waits, and the call fails on its own command).
        created.waitUntilReady().catch(() => {
          if (this.queues.get(name) === queue) this.queues.delete(name);
          created.close().catch(() => undefined);
        });
        return created;
      });
      // A failed import or setup is not kept: the next call tries again (and says what to install).
      queue.catch(() => {
        if (this.queues.get(name) === queue) this.queues.delete(name);
      });
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** A first start: out of the tenant's waiting set (fire-and-forget, resent until it succeeds; see RedisTaskStarts). */
  private readonly firstStart = (name: string, tenant: string, jobId: string): void => {
    this.starts.started(this.keys.ofTenant(tenant, name).waiting, jobId);
  };

  private readonly finalFailure = async (name: string, tenant: string, jobId: string): Promise<void> => {
    await this.connection.runScript(S.fail, [this.keys.ofTenant(tenant, name).failed], [jobId, Date.now(), this.options.keepFailed]);
  };

  /** The dead-letter view write again (idempotent), after BullMQ failed the job: bounded tries with backoff, each failure logged. */
  private readonly finalFailureAgain = async (name: string, tenant: string, jobId: string): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.finalFailure(name, tenant, jobId);
      } catch (error) {
        this.logger.warn(`Failed task ${name}:${jobId} not in the failed view (try ${attempt} of ${FAIL_VIEW_TRIES}): ${error instanceof Error ? error.message : String(error)}`);
        if (attempt === FAIL_VIEW_TRIES) return;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt).unref());
      }
    }
  };
}
