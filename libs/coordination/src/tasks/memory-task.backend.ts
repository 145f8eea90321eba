import type { Clock } from '../core/clock.js';
import { toStored } from './memory-task-record.js';
import { MemoryTaskQueue } from './memory-task-queue.js';
import { MemoryTaskWorker } from './memory-task-worker.js';
import { TaskTimeoutError } from './task.errors.js';
import type { ResolvedTaskOptions } from './task.options.js';
import type {
  CancelOutcome, NewTask, Page, RetryOutcome, StoredTask, TaskBackend, TaskProcessor, TaskWorker, WorkOptions,
} from './task-backend.interface.js';

/**
 * The task queue in process memory (the memory driver), with the contract of RedisTaskBackend
 * (test/contract/stores/task-backend.contract.ts): one queue per task name shared by the tenants
 * (memory-task-queue.ts), in BullMQ's order (priority, then the tenant's fairness tag, then entry
 * order), delays and retry backoff on the injected clock, cancel, retry, the failed view,
 * progress, results and the keep limits; workers with a concurrency (memory-task-worker.ts).
 *
 * A product feature (local development, users' tests, single-process apps), not a test double;
 * state is local to this instance: tasks do not survive a restart and no other process runs them.
 * Divergences from BullMQ: a deduplicated task does not count in its tenant's waiting count (on
 * Redis the tag script reserves tags before BullMQ dedupes); a task whose handler never settles
 * after its worker's close stays active (no stalled check puts it back: no other process could
 * run it). Delayed tasks and retry backoff become due on the clock to the ms: waiting workers
 * sleep until the next due time on the system clock, and look every DELAY_POLL_MS on any other
 * (a ManualClock moved by a test is noticed within that).
 *
 * @example
 * const backend = new MemoryTaskBackend(new ManualClock(0), resolveTaskOptions({ attempts: 1 }));
 * await backend.add('email.send', 'acme', [{ jobId: 'm-1', payload: mail, priority: 0, delayMs: 0, attempts: 1, backoff }]);
 * const worker = backend.work('email.send', { concurrency: 4 }, async (task) => send(task.payload));
 */
export class MemoryTaskBackend implements TaskBackend {
  private readonly queues = new Map<string, MemoryTaskQueue>();
  private readonly workers = new Set<TaskWorker>();

  constructor(private readonly clock: Clock, private readonly options: ResolvedTaskOptions) {}

  async add(name: string, tenant: string, tasks: readonly NewTask[]): Promise<StoredTask[]> {
    return this.queue(name).add(tenant, tasks);
  }

  async get(name: string, tenant: string, jobId: string): Promise<StoredTask | null> {
    const task = this.queues.get(name)?.get(tenant, jobId);
    return task ? toStored(task) : null;
  }

  async cancel(name: string, tenant: string, jobId: string): Promise<CancelOutcome> {
    return this.queues.get(name)?.cancel(tenant, jobId) ?? 'not-found';
  }

  async retry(name: string, tenant: string, jobId: string): Promise<RetryOutcome> {
    return this.queues.get(name)?.retry(tenant, jobId) ?? 'not-found';
  }

  async failed(name: string, tenant: string, page: Page): Promise<StoredTask[]> {
    return this.queues.get(name)?.failedPage(tenant, page) ?? [];
  }

  async list(name: string, tenant: string, page: Page): Promise<StoredTask[]> {
    return this.queues.get(name)?.listPage(tenant, page) ?? [];
  }

  async depth(name: string, tenant: string): Promise<number> {
    return this.queues.get(name)?.depth(tenant) ?? 0;
  }

  /** Resolves at the task's completion or final failure (real-time timeout), null when it does not exist or is removed meanwhile. */
  async waitFor(name: string, tenant: string, jobId: string, timeoutMs: number): Promise<StoredTask | null> {
    const queue = this.queues.get(name);
    const task = queue?.get(tenant, jobId);
    if (!queue || !task) return null;
    if (task.state === 'completed' || task.state === 'failed') return toStored(task);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unwatch();
        reject(new TaskTimeoutError(`${name}:${jobId}`, timeoutMs));
      }, timeoutMs);
      const unwatch = queue.watch(task, (finished) => {
        clearTimeout(timer);
        resolve(finished && toStored(finished));
      });
    });
  }

  work(name: string, options: WorkOptions, processor: TaskProcessor): TaskWorker {
    const worker = new MemoryTaskWorker(this.queue(name), options, processor);
    const close = worker.close.bind(worker);
    this.workers.add(worker);
    return {
      close: async (timeoutMs) => {
        await close(timeoutMs);
        this.workers.delete(worker);
      },
    };
  }

  /** Closes every worker (in parallel, each waiting up to `timeoutMs`), then stops the queues' timers; pending `waitFor`s resolve null. */
  async close(timeoutMs: number): Promise<void> {
    await Promise.all([...this.workers].map((worker) => worker.close(timeoutMs)));
    this.workers.clear();
    for (const queue of this.queues.values()) queue.close();
  }

  private queue(name: string): MemoryTaskQueue {
    let queue = this.queues.get(name);
    if (!queue) this.queues.set(name, (queue = new MemoryTaskQueue(name, this.clock, this.options)));
    return queue;
  }
}
