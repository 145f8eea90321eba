import type { Job, JobsOptions, JobState } from 'bullmq';
import type { NewTask, StoredTask } from './task-backend.interface.js';
import { bullPriority, priorityOf } from './task-priority.js';
import { UnrecoverableTaskError } from './task.errors.js';
import type { TaskState } from './task.types.js';

/** What a BullMQ job of the task queue carries: its tenant and payload (and the enqueue's traceparent, when traced). */
export interface TaskJobData {
  t: string;
  p: unknown;
  tp?: string;
}

/**
 * The data of a new task's job: `tp` only when the enqueue was traced (BullMQ stores every field).
 *
 * @example
 * queue.addBulk(tasks.map((t, i) => ({ name: JOB_NAME, data: jobData(tenant, t), opts: jobOptions(tenant, t, tags[i]) })));
 */
export function jobData(tenant: string, task: NewTask): TaskJobData {
  return task.traceparent === undefined ? { t: tenant, p: task.payload } : { t: tenant, p: task.payload, tp: task.traceparent };
}

export type TaskJob = Job<TaskJobData, unknown, string>;

/** BullMQ's job name of every task (the queue is the task name; one short constant keeps hashes small). */
export const JOB_NAME = 't';

/**
 * The BullMQ job id of a tenant's task: `<tenant>~<jobId>` (tenants never contain `~`), so one
 * queue per task name serves every tenant and a tenant only ever reads its own jobs.
 *
 * @example
 * bullJobId('acme', 'report-42'); // 'acme~report-42'
 */
export function bullJobId(tenant: string, jobId: string): string {
  return `${tenant}~${jobId}`;
}

/**
 * The task's state from BullMQ's: waiting, prioritized and waiting-children are `waiting`; null for
 * a job BullMQ no longer has.
 *
 * @example
 * taskStateOf('prioritized'); // 'waiting'
 */
export function taskStateOf(state: JobState | 'unknown'): TaskState | null {
  switch (state) {
    case 'waiting': case 'prioritized': case 'waiting-children': return 'waiting';
    case 'delayed': case 'active': case 'completed': case 'failed': return state;
    default: return null;
  }
}

/**
 * BullMQ's options of a new task with fairness tag `tag` (keep limits are the Queue's defaults).
 *
 * @example
 * queue.addBulk(tasks.map((t, i) => ({ name: JOB_NAME, data: jobData(tenant, t), opts: jobOptions(tenant, t, tags[i]) })));
 */
export function jobOptions(tenant: string, task: NewTask, tag: number): JobsOptions {
  const options: JobsOptions = { jobId: bullJobId(tenant, task.jobId), priority: bullPriority(task.priority, tag), attempts: task.attempts };
  // Only what applies: BullMQ packs every option of every job, on enqueue and on each move.
  if (task.delayMs > 0) options.delay = task.delayMs;
  if (task.attempts > 1) options.backoff = { type: task.backoff.type, delay: task.backoff.delayMs };
  return options;
}

/**
 * A BullMQ job as a StoredTask. `attemptsMade` counts started attempts: BullMQ's finished ones,
 * plus the running one. The failed reason shows only while the task is not completed.
 *
 * @example
 * const [job, state] = await Promise.all([queue.getJob(id), queue.getJobState(id)]);
 * return job && taskStateOf(state) ? toStoredTask(name, jobId, job, taskStateOf(state)!) : null;
 */
export function toStoredTask(name: string, jobId: string, job: TaskJob, state: TaskState): StoredTask {
  const enqueuedAtMs = job.timestamp;
  const task: StoredTask = {
    name,
    jobId,
    tenant: job.data.t,
    state,
    payload: job.data.p,
    priority: priorityOf(job.opts.priority ?? 0),
    attemptsMade: job.attemptsMade + (state === 'active' ? 1 : 0),
    attempts: job.opts.attempts ?? 1,
    progress: progressOf(job.progress),
    enqueuedAtMs,
    runAtMs: enqueuedAtMs + (job.opts.delay ?? 0),
  };
  if (state === 'completed') task.result = job.returnvalue;
  else if (job.failedReason) task.failedReason = job.failedReason;
  if (job.processedOn) task.startedAtMs = job.processedOn;
  if (job.finishedOn && (state === 'completed' || state === 'failed')) task.finishedAtMs = job.finishedOn;
  return task;
}

/**
 * A task `addBulk` just added, as a StoredTask: what toStoredTask reads from the new job, without
 * reading it back (priority and attempts are the task's own, the time BullMQ's).
 *
 * @example
 * const stored = freshStoredTask(name, tenant, task, job.timestamp);
 */
export function freshStoredTask(name: string, tenant: string, task: NewTask, enqueuedAtMs: number): StoredTask {
  return {
    name,
    jobId: task.jobId,
    tenant,
    state: task.delayMs > 0 ? 'delayed' : 'waiting',
    payload: task.payload,
    priority: task.priority,
    attemptsMade: 0,
    attempts: task.attempts,
    progress: 0,
    enqueuedAtMs,
    runAtMs: enqueuedAtMs + task.delayMs,
  };
}

/**
 * An UnrecoverableTaskError when a handler's result cannot be stored as JSON (BullMQ would fail
 * the attempt while storing it and retry it, running a handler that succeeded again), else undefined.
 *
 * @example
 * unstorable({ total: 10n }); // UnrecoverableTaskError
 */
export function unstorable(value: unknown): UnrecoverableTaskError | undefined {
  if (typeof value !== 'object' && typeof value !== 'bigint') return undefined;
  try {
    JSON.stringify(value);
    return undefined;
  } catch (error) {
    return new UnrecoverableTaskError(`The task's result cannot be stored as JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * What BullMQ records for a failed attempt (its `message` is the failed reason): anything thrown becomes an Error.
 *
 * @example
 * asError('no'); // Error('no')
 */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(typeof error === 'string' ? error : JSON.stringify(error) ?? String(error));
}

/** The progress a handler reported (a number or an object; anything else BullMQ may hold reads as 0). */
function progressOf(value: unknown): number | object {
  return typeof value === 'number' || (typeof value === 'object' && value !== null) ? value : 0;
}
