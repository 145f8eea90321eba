import type { TaskBackoff, TaskState } from './task.types.js';
import type { StoredTask } from './task-backend.interface.js';

/**
 * Where a queued task sits in MemoryTaskQueue's heaps; a task points at its current slot, so older slots are stale.
 *
 * @example
 * const live = (slot: Slot) => slot.task.slot === slot;
 */
export interface Slot {
  readonly task: TaskRecord;
  /** bullPriority(priority, tag): lower first (the BullMQ order). */
  readonly rank: number;
  /** Order of entry into the heap: FIFO among equal ranks (BullMQ's priority counter). */
  readonly seq: number;
  /** When a delayed slot is due (clock ms). */
  readonly due: number;
}

/**
 * One attempt in progress; settling an attempt that is no longer the task's current one does nothing.
 *
 * @example
 * if (attempt.task.attempt !== attempt) return; // cut off, or settled already
 */
export interface Attempt {
  readonly task: TaskRecord;
  readonly number: number;
  readonly startedAtMs: number;
}

/**
 * A task as MemoryTaskQueue keeps it: JSON values stored as text, so no caller shares state with
 * the queue (every reply is parsed afresh, as a Redis reply would be).
 *
 * @example
 * const reply: StoredTask = toStored(record);
 */
export interface TaskRecord {
  readonly name: string;
  readonly jobId: string;
  readonly tenant: string;
  state: TaskState;
  readonly payload: string | undefined;
  readonly priority: number;
  attemptsMade: number;
  readonly attempts: number;
  readonly backoff: TaskBackoff;
  progress: string;
  result?: string;
  failedReason?: string;
  readonly enqueuedAtMs: number;
  readonly runAtMs: number;
  startedAtMs?: number;
  finishedAtMs?: number;
  /** Fairness tag (task-priority.ts), kept across attempts. */
  readonly tag: number;
  /** NewTask.traceparent, handed to every attempt. */
  readonly traceparent?: string;
  /**
   * Whether it counts in its tenant's waiting count `n`: from an add without delay, or a `retry`,
   * until its next start (or its cancel). A task added with a delay never counts.
   */
  counted: boolean;
  slot?: Slot;
  attempt?: Attempt;
}

/**
 * `value` as stored: JSON text (undefined stays undefined, as a missing field of a Redis hash).
 *
 * @example
 * record.progress = toJson({ pct: 50 }) ?? '0';
 */
export function toJson(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

/**
 * A stored JSON text parsed afresh.
 *
 * @example
 * const payload = fromJson(record.payload);
 */
export function fromJson(text: string | undefined): unknown {
  return text === undefined ? undefined : JSON.parse(text);
}

/**
 * The StoredTask of a record: a new object whose values share nothing with the queue.
 *
 * @example
 * return record ? toStored(record) : null;
 */
export function toStored(r: TaskRecord): StoredTask {
  const stored: StoredTask = {
    name: r.name, jobId: r.jobId, tenant: r.tenant, state: r.state, payload: fromJson(r.payload), priority: r.priority,
    attemptsMade: r.attemptsMade, attempts: r.attempts, progress: fromJson(r.progress) as number | object,
    enqueuedAtMs: r.enqueuedAtMs, runAtMs: r.runAtMs,
  };
  if (r.result !== undefined) stored.result = fromJson(r.result);
  if (r.failedReason !== undefined) stored.failedReason = r.failedReason;
  if (r.startedAtMs !== undefined) stored.startedAtMs = r.startedAtMs;
  if (r.finishedAtMs !== undefined) stored.finishedAtMs = r.finishedAtMs;
  return stored;
}

/**
 * The wait before attempt n+1 after attempt n failed, as BullMQ computes it (Backoffs.calculate,
 * no jitter): `fixed` waits delayMs, `exponential` round(2^(n-1) * delayMs).
 *
 * @example
 * backoffDelay({ type: 'exponential', delayMs: 1_000 }, 3); // 4_000
 */
export function backoffDelay(backoff: TaskBackoff, failedAttempt: number): number {
  return backoff.type === 'fixed' ? backoff.delayMs : Math.round(2 ** (failedAttempt - 1) * backoff.delayMs);
}

/**
 * The message a failed attempt leaves as `failedReason`.
 *
 * @example
 * reasonOf(new Error('boom')); // 'boom'
 */
export function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
