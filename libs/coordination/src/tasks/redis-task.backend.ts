import { Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../connection/redis-client.factory.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import type { CoordinationCore } from '../core/coordination-core.js';
import { loadBullMQ } from './redis-task-bullmq.js';
import { RedisTaskQueries } from './redis-task-queries.js';
import { bullJobId, freshStoredTask, JOB_NAME, jobOptions, toStoredTask, type TaskJob, type TaskJobData } from './redis-task-records.js';
import { RedisTaskWorker } from './redis-task-worker.js';
import type {
  CancelOutcome, NewTask, Page, RetryOutcome, StoredTask, TaskBackend, TaskProcessor, TaskWorker, WorkOptions,
} from './task-backend.interface.js';
import { TaskKeys } from './task-keys.js';
import { TAG_LIMIT } from './task-priority.js';
import type { ResolvedTaskOptions } from './task.options.js';
import { TASK_SCRIPTS as S } from './task.scripts.js';

type TaskQueue = Queue<TaskJobData, unknown, string>;

/** TTL of a fairness hash, refreshed on each write: a count leaked by a crash heals within it. */
export const FAIR_TTL_MS = 86_400_000;
/** Newest job ids a tenant's index keeps per task name (what `list` can page through). */
export const INDEX_CAP = 10_000;

/**
 * The task queue on BullMQ: one Queue per task name (prefix `<prefix>:_shared:tasks`, queue name
 * `{name}`: one cluster slot per name, no ioredis keyPrefix), shared by the tenants; BullMQ job id
 * `<tenant>~<jobId>`, data `{ t: tenant, p: payload }`.
 *
 * Connections: the Queues (enqueue, reads, cancel, retry) run on the module's command connection,
 * through its circuit breaker and command timeout, so an unreachable Redis fails `add` with
 * RedisUnavailableError (`tasks.enqueue`) instead of queueing it; BullMQ defines its scripts on
 * that connection. Workers share one `queue` connection (no retry limit, as BullMQ requires), each
 * duplicating it for its blocking fetch.
 *
 * Per add: one script (fairness tags, waiting count, index; it also skips job ids BullMQ has) and
 * one `addBulk` pipeline. Per task run: BullMQ's own commands plus, on a first start, a share of
 * one fire-and-forget script (the first starts of one event-loop turn coalesced per tenant; auto-pipelined, no
 * round trip awaited). Reads are in RedisTaskQueries, the worker in RedisTaskWorker.
 *
 * Where it may be off: the waiting count (`depth`, and whether a tenant's tags restart at 1) is
 * one too high after an add whose tag script ran but whose `addBulk` did not (Redis lost in
 * between, or a command timeout while the server stalls), or after two concurrent adds of one new
 * jobId; the fairness hash expires 24 h after its last write, which heals it. The index and the
 * failed view have no TTL: they are bounded by INDEX_CAP and `keepFailed`, and their entries whose
 * job BullMQ dropped are removed when read.
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
  private readonly workers = new Set<RedisTaskWorker>();
  private readonly queries: RedisTaskQueries;
  private queueClient?: RedisClient;
  /** First starts not sent yet, per fairness hash (see firstStart). */
  private readonly starts = new Map<string, number>();
  private startsFlush?: NodeJS.Immediate;

  constructor(core: CoordinationCore, private readonly options: ResolvedTaskOptions) {
    if (!core.connection) throw new Error('RedisTaskBackend needs the redis driver');
    this.connection = core.connection;
    this.keys = new TaskKeys(core.keys);
    this.prefix = this.keys.bullPrefix();
    this.queries = new RedisTaskQueries(this.connection, (name) => this.queue(name));
  }

  add(name: string, tenant: string, tasks: readonly NewTask[]): Promise<StoredTask[]> {
    return this.addOnce(name, tenant, tasks, true);
  }

  private async addOnce(name: string, tenant: string, tasks: readonly NewTask[], again: boolean): Promise<StoredTask[]> {
    if (tasks.length === 0) return [];
    if (this.starts.size > 0) this.flushStarts();
    // Before the tags are counted: a missing bullmq must not leave them counted.
    const queue = await this.queue(name);
    const keys = this.keys.ofTenant(tenant, name);
    const jobKeyPrefix = `${this.prefix}:${this.keys.queueName(name)}:${bullJobId(tenant, '')}`;
    const args = [jobKeyPrefix, Date.now(), INDEX_CAP, FAIR_TTL_MS, TAG_LIMIT, ...tasks.map((t) => t.jobId)];
    const tags = await this.connection.runScript<number[]>(S.add, [keys.fair, keys.index], args);
    // The common case (every job id new): one addBulk, each task stored as it was sent.
    if (!tags.includes(0)) return this.addFresh(queue, name, tenant, tasks, tags);
    const fresh = tasks.filter((_, i) => tags[i] > 0);
    const freshTags = tags.filter((tag) => tag > 0);
    const added = fresh.length === 0 ? [] : await this.connection.execute('tasks.enqueue', () =>
      queue.addBulk(fresh.map((task, i) => ({ name: JOB_NAME, data: { t: tenant, p: task.payload }, opts: jobOptions(tenant, task, freshTags[i]) }))),
    );
    const byJobId = new Map<string, StoredTask>();
    added.forEach((job, i) => byJobId.set(fresh[i].jobId, toStoredTask(name, fresh[i].jobId, job as TaskJob, fresh[i].delayMs > 0 ? 'delayed' : 'waiting')));
    const existing = tasks.filter((t) => !byJobId.has(t.jobId));
    const found = await Promise.all(existing.map((t) => this.get(name, tenant, t.jobId)));
    const gone: NewTask[] = [];
    existing.forEach((task, i) => (found[i] ? byJobId.set(task.jobId, found[i]) : gone.push(task)));
    // Removed between the check and the read (kept-limit trimming): added anew, as BullMQ would (once).
    if (gone.length > 0 && !again) throw new Error(`Tasks ${gone.map((t) => t.jobId).join(', ')} of ${JSON.stringify(name)} exist in BullMQ in no known state`);
    if (gone.length > 0) (await this.addOnce(name, tenant, gone, false)).forEach((task) => byJobId.set(task.jobId, task));
    return tasks.map((t) => byJobId.get(t.jobId)!);
  }

  private async addFresh(queue: TaskQueue, name: string, tenant: string, tasks: readonly NewTask[], tags: readonly number[]): Promise<StoredTask[]> {
    const jobs = new Array<{ name: string; data: TaskJobData; opts: ReturnType<typeof jobOptions> }>(tasks.length);
    for (let i = 0; i < tasks.length; i++) jobs[i] = { name: JOB_NAME, data: { t: tenant, p: tasks[i].payload }, opts: jobOptions(tenant, tasks[i], tags[i]) };
    const added = await this.connection.execute('tasks.enqueue', () => queue.addBulk(jobs));
    const stored = new Array<StoredTask>(tasks.length);
    for (let i = 0; i < tasks.length; i++) stored[i] = freshStoredTask(name, tenant, tasks[i], added[i].timestamp);
    return stored;
  }

  get(name: string, tenant: string, jobId: string): Promise<StoredTask | null> {
    return this.queries.get(name, tenant, jobId);
  }

  async cancel(name: string, tenant: string, jobId: string): Promise<CancelOutcome> {
    const outcome = await this.queries.remove(name, tenant, jobId);
    if (typeof outcome !== 'object' || !('neverStarted' in outcome)) return outcome;
    const keys = this.keys.ofTenant(tenant, name);
    await this.connection.runScript(S.cancel, [keys.fair, keys.index], [jobId, outcome.neverStarted ? 1 : 0, FAIR_TTL_MS]);
    return 'cancelled';
  }

  /**
   * Counts the task as waiting (and takes it out of the failed view) before BullMQ moves it: a
   * worker may start it at once, and its first-start decrement must find the count raised. Undone
   * when the move does not happen (back in the failed view, whose reads skip it if it is no
   * longer failed).
   */
  retry(name: string, tenant: string, jobId: string): Promise<RetryOutcome> {
    const keys = this.keys.ofTenant(tenant, name);
    return this.queries.retry(name, tenant, jobId, {
      before: () => this.connection.runScript(S.retry, [keys.failed, keys.fair], [jobId, FAIR_TTL_MS]),
      undo: () => Promise.all([
        this.connection.runScript(S.start, [keys.fair], [FAIR_TTL_MS, 1]),
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
    if (this.starts.size > 0) this.flushStarts();
    const n = await this.connection.execute('tasks.depth', (c) => c.hget(this.keys.ofTenant(tenant, name).fair, 'n'));
    return Number(n ?? 0);
  }

  waitFor(name: string, tenant: string, jobId: string, timeoutMs: number): Promise<StoredTask | null> {
    return this.queries.waitFor(name, tenant, jobId, timeoutMs);
  }

  work(name: string, options: WorkOptions, processor: TaskProcessor): TaskWorker {
    this.queueClient ??= this.connection.createQueueClient();
    const o = this.options;
    const worker = new RedisTaskWorker(loadBullMQ(), this.queueClient, {
      name, queueName: this.keys.queueName(name), prefix: this.prefix, concurrency: options.concurrency,
      lockDurationMs: o.lockDurationMs, stalledIntervalMs: o.stalledIntervalMs, maxStalledCount: o.maxStalledCount,
    }, { firstStart: this.firstStart, finalFailure: this.finalFailure }, processor);
    this.workers.add(worker);
    return { close: (timeoutMs) => worker.close(timeoutMs).finally(() => this.workers.delete(worker)) };
  }

  async close(timeoutMs: number): Promise<void> {
    await Promise.all([...this.workers].map((worker) => worker.close(timeoutMs)));
    this.workers.clear();
    this.flushStarts();
    await Promise.all([...this.queues.values()].map((queue) => queue.then((q) => q.close()).catch(() => undefined)));
    this.queues.clear();
    if (this.queueClient) await this.connection.releaseClient(this.queueClient);
    this.queueClient = undefined;
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
        return created;
      });
      // A failed import is not kept: the next call tries again (and says what to install).
      queue.catch(() => this.queues.delete(name));
      this.queues.set(name, queue);
    }
    return queue;
  }

  /**
   * Fire-and-forget: the first starts of one turn of the event loop are counted per fairness hash
   * and sent as one auto-pipelined script each (setImmediate), so a run adds no round trip, and the
   * decrement is on the wire before the handler's first reply can come back: a worker that dies
   * mid-task has sent it (a longer window lost it with the process, leaving the count too high).
   * `add` and `depth` send what is pending first (same connection, so Redis applies it before
   * their own commands).
   */
  private readonly firstStart = (name: string, tenant: string): void => {
    const fair = this.keys.ofTenant(tenant, name).fair;
    this.starts.set(fair, (this.starts.get(fair) ?? 0) + 1);
    this.startsFlush ??= setImmediate(this.flushStarts);
  };

  private readonly flushStarts = (): void => {
    clearImmediate(this.startsFlush);
    this.startsFlush = undefined;
    for (const [fair, count] of this.starts) {
      this.connection.runScript(S.start, [fair], [FAIR_TTL_MS, count]).catch((error: unknown) => {
        this.logger.warn(`Fairness count ${fair} not updated: ${error instanceof Error ? error.message : String(error)}`);
      });
    }
    this.starts.clear();
  };

  private readonly finalFailure = async (name: string, tenant: string, jobId: string): Promise<void> => {
    await this.connection.runScript(S.fail, [this.keys.ofTenant(tenant, name).failed], [jobId, Date.now(), this.options.keepFailed]);
  };
}
