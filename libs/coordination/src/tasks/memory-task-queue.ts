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
import type { AttemptOutcome, CancelOutcome, NewTask, Page, RetryOutcome, StoredTask } from './task-backend.interface.js';

/** One tenant's tasks of a name (in enqueue order) and its fairness counters. */
interface TenantTasks {
  readonly tasks: Map<string, TaskRecord>;
  /** The last fairness tag given. */
  tag: number;
  /**
   * The fairness rule's waiting count `n`, also `depth`: tasks added without delay or put back by
   * `retry` that have not started since (TaskRecord.counted).
   */
  waiting: number;
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
    if (t.waiting === 0) t.tag = 0;
    const now = this.clock.now();
    const added = tasks.map((task): StoredTask => {
      const existing = t.tasks.get(task.jobId);
      if (existing) return { ...toStored(existing), existed: true };
      t.tag = Math.min(t.tag + 1, TAG_LIMIT);
      const counted = task.delayMs === 0;
      if (counted) t.waiting += 1;
      const record: TaskRecord = {
        name: this.name, jobId: task.jobId, tenant, state: 'waiting', payload: toJson(task.payload), priority: task.priority,
        attemptsMade: 0, attempts: task.attempts, backoff: { ...task.backoff }, progress: '0', enqueuedAtMs: now,
        runAtMs: now + task.delayMs, tag: t.tag, counted, traceparent: task.traceparent,
      };
      t.tasks.set(task.jobId, record);
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
    this.uncount(task);
    this.remove(task);
    return 'cancelled';
  }

  retry(tenant: string, jobId: string): RetryOutcome {
    const task = this.get(tenant, jobId);
    if (!task) return 'not-found';
    if (task.state !== 'failed') return { state: task.state };
    this.failed.delete(task);
    task.attemptsMade = 0;
    task.failedReason = task.finishedAtMs = task.startedAtMs = undefined;
    task.counted = true;
    this.tenants.get(tenant)!.waiting += 1;
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

  /** The tenant's waiting count `n` (see TenantTasks.waiting). */
  depth(tenant: string): number {
    return this.tenants.get(tenant)?.waiting ?? 0;
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
    this.uncount(task);
    task.state = 'active';
    task.attemptsMade += 1;
    task.startedAtMs = this.clock.now();
    return (task.attempt = { task, number: task.attemptsMade, startedAtMs: task.startedAtMs });
  }

  progress(attempt: Attempt, value: number | object): void {
    if (attempt.task.attempt === attempt) attempt.task.progress = toJson(value) ?? '0';
  }

  /**
   * Completes the attempt; a result that cannot be stored as JSON (a BigInt, a cycle) fails the
   * task for good instead (a rerun would produce it again). Each settle method returns how the
   * attempt settled, undefined when it was no longer the task's current one.
   */
  complete(attempt: Attempt, result: unknown): AttemptOutcome | undefined {
    const { task } = attempt;
    if (task.attempt !== attempt) return undefined;
    let stored: string;
    try {
      // A handler that returns nothing leaves null, as BullMQ stores it.
      stored = toJson(result) ?? 'null';
    } catch (error) {
      return this.fail(attempt, new UnrecoverableTaskError(`the task's result cannot be stored: ${reasonOf(error)}`));
    }
    task.attempt = undefined;
    task.result = stored;
    task.failedReason = undefined;
    this.finish(task, 'completed', this.completed, this.options.keepCompleted);
    return 'completed';
  }

  /** Fails the attempt: retried after its backoff while attempts remain, else failed (the dead-letter view). */
  fail(attempt: Attempt, error: unknown): AttemptOutcome | undefined {
    const { task } = attempt;
    if (task.attempt !== attempt) return undefined;
    task.attempt = undefined;
    task.failedReason = reasonOf(error);
    if (error instanceof UnrecoverableTaskError || task.attemptsMade >= task.attempts) {
      this.finish(task, 'failed', this.failed, this.options.keepFailed);
      return 'failed';
    }
    this.enqueue(task, backoffDelay(task.backoff, task.attemptsMade));
    this.wakeups.wake();
    return 'retrying';
  }

  /**
   * Puts back to waiting a task whose handler gave up after its worker's close cut it off (the
   * signal aborted, then it threw): the attempt is not spent, the task keeps its tag and does not
   * count as waiting again (as BullMQ's moveToWait).
   */
  putBack(attempt: Attempt): AttemptOutcome | undefined {
    const { task } = attempt;
    if (task.attempt !== attempt) return undefined;
    task.attempt = undefined;
    task.attemptsMade -= 1;
    this.enqueue(task, 0);
    this.wakeups.wake();
    return 'handed-back';
  }

  /** Stops the delay timer (the backend closes) and tells watchers the tasks are gone. */
  close(): void {
    this.wakeups.stop();
    this.watchers.clear();
  }

  /** Queues the task: delayed until `delayMs` passed on the clock, else waiting. */
  private enqueue(task: TaskRecord, delayMs: number): void {
    const due = this.clock.now() + delayMs;
    const slot: Slot = { task, rank: bullPriority(task.priority, task.tag), seq: ++this.seq, due };
    task.slot = slot;
    task.state = delayMs > 0 ? 'delayed' : 'waiting';
    (delayMs > 0 ? this.delayed : this.waiting).push(slot);
  }

  private promoteDue(): void {
    const now = this.clock.now();
    for (let slot = this.delayed.peek(); slot && slot.due <= now; slot = this.delayed.peek()) {
      this.delayed.pop();
      this.enqueue(slot.task, 0);
    }
  }

  private finish(task: TaskRecord, state: 'completed' | 'failed', kept: Set<TaskRecord>, keep: number): void {
    task.finishedAtMs = this.clock.now();
    task.state = state;
    kept.add(task);
    this.watchers.notify(task, task);
    for (const oldest of kept) {
      if (kept.size <= keep) break;
      this.remove(oldest);
    }
  }

  private remove(task: TaskRecord): void {
    this.tenants.get(task.tenant)!.tasks.delete(task.jobId);
    task.slot = undefined;
    this.completed.delete(task);
    this.failed.delete(task);
    this.watchers.notify(task, null);
  }

  /** Takes the task off its tenant's waiting count, if it is on it (it starts, or is cancelled). */
  private uncount(task: TaskRecord): void {
    if (!task.counted) return;
    task.counted = false;
    this.tenants.get(task.tenant)!.waiting -= 1;
  }

  private tenant(tenant: string): TenantTasks {
    let t = this.tenants.get(tenant);
    if (!t) this.tenants.set(tenant, (t = { tasks: new Map(), tag: 0, waiting: 0 }));
    return t;
  }

  private page(oldestFirst: TaskRecord[], { offset, limit }: Page): StoredTask[] {
    return oldestFirst.reverse().slice(offset, offset + limit).map(toStored);
  }
}
