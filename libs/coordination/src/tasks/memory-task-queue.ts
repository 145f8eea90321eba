import type { Clock } from '../core/clock.js';
import { MinHeap } from './memory-task-heap.js';
import { FinishWatchers, WorkerWakeups, type FinishWatcher } from './memory-task-signals.js';
import {
  backoffDelay, reasonOf, toJson, toStored, type Attempt, type Slot, type TaskRecord,
} from './memory-task-record.js';
import { UnrecoverableTaskError } from './task.errors.js';
import type { ResolvedTaskOptions } from './task.options.js';
import type { TaskState } from './task.types.js';
import { bullPriority, TAG_LIMIT } from './task-priority.js';
import type { CancelOutcome, NewTask, Page, RetryOutcome, StoredTask } from './task-backend.interface.js';

/** One tenant's tasks of a name (in enqueue order) and its fairness counters. */
interface TenantTasks {
  readonly tasks: Map<string, TaskRecord>;
  /** The last fairness tag given. */
  tag: number;
  /** Tasks enqueued and never started (the fairness rule's waiting count). */
  unstarted: number;
  /** Tasks waiting or delayed now (`depth`). */
  queued: number;
}

const isQueued = (state: TaskState) => state === 'waiting' || state === 'delayed';
const isLive = (slot: Slot) => slot.task.slot === slot;

/**
 * The tasks of one name in MemoryTaskBackend, shared by the tenants as a BullMQ queue is: waiting
 * tasks in BullMQ's order (bullPriority of priority and fairness tag, then entry order), delayed
 * ones (delays and retry backoff) by due time on the injected clock, moved to waiting when a
 * worker looks and they are due, as BullMQ promotes them. Completed and failed tasks are kept up
 * to `keepCompleted` / `keepFailed` per name, the oldest finished removed first.
 *
 * @example
 * const queue = new MemoryTaskQueue('email.send', clock, options);
 * queue.add('acme', [task]);
 * const attempt = queue.take(); // the next due task, now active
 */
export class MemoryTaskQueue {
  private readonly tenants = new Map<string, TenantTasks>();
  private readonly waiting = new MinHeap<Slot>((a, b) => a.rank < b.rank || (a.rank === b.rank && a.seq < b.seq), isLive);
  private readonly delayed = new MinHeap<Slot>((a, b) => a.due < b.due || (a.due === b.due && a.seq < b.seq), isLive);
  /** Finished tasks in finishing order, for the keep limits; `failed` is also the dead-letter view. */
  private readonly completed = new Set<TaskRecord>();
  private readonly failed = new Set<TaskRecord>();
  private readonly watchers = new FinishWatchers();
  /** Worker wake-ups: called when a task may have become ready (added, due, retried, put back). */
  readonly wakeups: WorkerWakeups;
  private seq = 0;

  constructor(readonly name: string, private readonly clock: Clock, private readonly options: ResolvedTaskOptions) {
    this.wakeups = new WorkerWakeups(clock, () => this.delayed.peek()?.due);
  }

  add(tenant: string, tasks: readonly NewTask[]): StoredTask[] {
    const t = this.tenant(tenant);
    if (t.unstarted === 0) t.tag = 0;
    const now = this.clock.now();
    const added = tasks.map((task) => {
      const existing = t.tasks.get(task.jobId);
      if (existing) return toStored(existing);
      t.tag = Math.min(t.tag + 1, TAG_LIMIT);
      t.unstarted += 1;
      const record: TaskRecord = {
        name: this.name, jobId: task.jobId, tenant, state: 'waiting', payload: toJson(task.payload), priority: task.priority,
        attemptsMade: 0, attempts: task.attempts, backoff: { ...task.backoff }, progress: '0', enqueuedAtMs: now,
        runAtMs: now + task.delayMs, tag: t.tag, started: false,
      };
      t.tasks.set(task.jobId, record);
      t.queued += 1;
      this.enqueue(record, task.delayMs);
      return toStored(record);
    });
    this.wakeups.wake();
    return added;
  }

  get(tenant: string, jobId: string): TaskRecord | undefined {
    return this.tenants.get(tenant)?.tasks.get(jobId);
  }

  cancel(tenant: string, jobId: string): CancelOutcome {
    const task = this.get(tenant, jobId);
    if (!task) return 'not-found';
    if (!isQueued(task.state)) return { state: task.state };
    if (!task.started) this.unstart(task);
    this.remove(task);
    return 'cancelled';
  }

  retry(tenant: string, jobId: string): RetryOutcome {
    const task = this.get(tenant, jobId);
    if (!task) return 'not-found';
    if (task.state !== 'failed') return { state: task.state };
    this.failed.delete(task);
    task.attemptsMade = 0;
    task.failedReason = task.finishedAtMs = undefined;
    this.setState(task, 'waiting');
    this.enqueue(task, 0);
    this.wakeups.wake();
    return 'retried';
  }

  /** The tenant's failed tasks, most recently failed first. */
  failedPage(tenant: string, page: Page): StoredTask[] {
    return this.page([...this.failed].filter((task) => task.tenant === tenant), page);
  }

  /** The tenant's kept tasks, most recently enqueued first. */
  listPage(tenant: string, page: Page): StoredTask[] {
    return this.page([...(this.tenants.get(tenant)?.tasks.values() ?? [])], page);
  }

  depth(tenant: string): number {
    return this.tenants.get(tenant)?.queued ?? 0;
  }

  /** Calls `watcher` once `task` finishes or is removed unfinished; returns the unwatch. */
  watch(task: TaskRecord, watcher: FinishWatcher): () => void {
    return this.watchers.watch(task, watcher);
  }

  /** Starts the next ready task (due delayed ones first become waiting): its attempt, or undefined. */
  take(): Attempt | undefined {
    this.promoteDue();
    const slot = this.waiting.pop();
    if (!slot) return undefined;
    const { task } = slot;
    task.slot = undefined;
    if (!task.started) {
      task.started = true;
      this.unstart(task);
    }
    this.setState(task, 'active');
    task.attemptsMade += 1;
    task.startedAtMs = this.clock.now();
    return (task.attempt = { task, number: task.attemptsMade, startedAtMs: task.startedAtMs });
  }

  progress(attempt: Attempt, value: number | object): void {
    if (attempt.task.attempt === attempt) attempt.task.progress = toJson(value) ?? '0';
  }

  complete(attempt: Attempt, result: unknown): void {
    const { task } = attempt;
    if (task.attempt !== attempt) return;
    const stored = toJson(result);
    task.attempt = undefined;
    task.result = stored;
    task.failedReason = undefined;
    this.finish(task, 'completed', this.completed, this.options.keepCompleted);
  }

  /** Fails the attempt: retried after its backoff while attempts remain, else failed (the dead-letter view). */
  fail(attempt: Attempt, error: unknown): void {
    const { task } = attempt;
    if (task.attempt !== attempt) return;
    task.attempt = undefined;
    task.failedReason = reasonOf(error);
    const unrecoverable = error instanceof UnrecoverableTaskError || (error as Error | null)?.name === 'UnrecoverableTaskError';
    if (unrecoverable || task.attemptsMade >= task.attempts) return this.finish(task, 'failed', this.failed, this.options.keepFailed);
    const delayMs = backoffDelay(task.backoff, task.attemptsMade);
    this.setState(task, delayMs > 0 ? 'delayed' : 'waiting');
    this.enqueue(task, delayMs);
    this.wakeups.wake();
  }

  /** Puts a task whose attempt was cut off (its worker closed) back to waiting; the attempt does not count. */
  putBack(attempt: Attempt): void {
    const { task } = attempt;
    if (task.attempt !== attempt) return;
    task.attempt = undefined;
    task.attemptsMade -= 1;
    this.setState(task, 'waiting');
    this.enqueue(task, 0);
    this.wakeups.wake();
  }

  /** Stops the delay timer (the backend closes) and tells watchers the tasks are gone. */
  close(): void {
    this.wakeups.stop();
    this.watchers.clear();
  }

  private enqueue(task: TaskRecord, delayMs: number): void {
    const due = this.clock.now() + delayMs;
    const slot: Slot = { task, rank: bullPriority(task.priority, task.tag), seq: ++this.seq, due };
    task.slot = slot;
    if (delayMs > 0) {
      task.state = 'delayed';
      this.delayed.push(slot);
    } else this.waiting.push(slot);
  }

  private promoteDue(): void {
    const now = this.clock.now();
    for (let slot = this.delayed.peek(); slot && slot.due <= now; slot = this.delayed.peek()) {
      this.delayed.pop();
      this.setState(slot.task, 'waiting');
      this.enqueue(slot.task, 0);
    }
  }

  private finish(task: TaskRecord, state: 'completed' | 'failed', kept: Set<TaskRecord>, keep: number): void {
    task.finishedAtMs = this.clock.now();
    this.setState(task, state);
    kept.add(task);
    this.watchers.notify(task, task);
    for (const oldest of kept) {
      if (kept.size <= keep) break;
      this.remove(oldest);
    }
  }

  private remove(task: TaskRecord): void {
    const t = this.tenants.get(task.tenant)!;
    if (isQueued(task.state)) t.queued -= 1;
    t.tasks.delete(task.jobId);
    task.slot = undefined;
    this.completed.delete(task);
    this.failed.delete(task);
    this.watchers.notify(task, null);
  }

  private setState(task: TaskRecord, state: TaskState): void {
    const t = this.tenants.get(task.tenant)!;
    t.queued += (isQueued(state) ? 1 : 0) - (isQueued(task.state) ? 1 : 0);
    task.state = state;
  }

  private unstart(task: TaskRecord): void {
    const t = this.tenants.get(task.tenant)!;
    t.unstarted = Math.max(t.unstarted - 1, 0);
  }

  private tenant(tenant: string): TenantTasks {
    let t = this.tenants.get(tenant);
    if (!t) this.tenants.set(tenant, (t = { tasks: new Map(), tag: 0, unstarted: 0, queued: 0 }));
    return t;
  }

  private page(oldestFirst: TaskRecord[], { offset, limit }: Page): StoredTask[] {
    return oldestFirst.reverse().slice(offset, offset + limit).map(toStored);
  }
}
