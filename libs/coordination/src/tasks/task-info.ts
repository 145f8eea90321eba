import { SHARED_TENANT } from '../keys/key-builder.js';
import type { StoredTask } from './task-backend.interface.js';
import type { TaskId, TaskInfo } from './task.types.js';

/**
 * A stored task as the public TaskInfo: its id `<name>:<jobId>`, times as Dates, no `tenant` for
 * the shared namespace (a task enqueued outside any tenant).
 *
 * @example
 * const info = toInfo(await backend.get(name, tenant, jobId));
 */
export function toInfo<P = unknown, R = unknown>(stored: StoredTask): TaskInfo<P, R> {
  // Field by field: a rest/spread copy costs several times more, and enqueueMany maps every task.
  const info: Mutable<TaskInfo<P, R>> = {
    id: `${stored.name}:${stored.jobId}` as TaskId<P, R>,
    name: stored.name,
    jobId: stored.jobId,
    state: stored.state,
    payload: stored.payload as P,
    priority: stored.priority,
    attemptsMade: stored.attemptsMade,
    attempts: stored.attempts,
    progress: stored.progress,
    enqueuedAt: new Date(stored.enqueuedAtMs),
    runAt: new Date(stored.runAtMs),
  };
  if (stored.tenant !== SHARED_TENANT) info.tenant = stored.tenant;
  if (stored.result !== undefined) info.result = stored.result as R;
  if (stored.failedReason !== undefined) info.failedReason = stored.failedReason;
  if (stored.startedAtMs !== undefined) info.startedAt = new Date(stored.startedAtMs);
  if (stored.finishedAtMs !== undefined) info.finishedAt = new Date(stored.finishedAtMs);
  return info;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
