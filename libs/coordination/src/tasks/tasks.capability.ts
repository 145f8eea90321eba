import type { CoordinationCapability } from '../core/capability.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { errorMessage } from '../events/error-message.js';
import { MemoryTaskBackend } from './memory-task.backend.js';
import { TASK_BACKEND, type TaskBackend } from './task-backend.interface.js';
import { TaskHandlerExplorer } from './task-handler.explorer.js';
import { TaskObserver } from './task-observer.js';
import { TASK_OPTIONS, TaskOptionsSchema, resolveTaskOptions, type ResolvedTaskOptions, type TaskModuleOptions } from './task.options.js';
import { TaskService } from './task.service.js';

/**
 * The backend of the module's driver. The redis one (BullMQ) is imported only on the redis driver:
 * `bullmq` is an optional peer dependency, so an application that uses no tasks needs not install
 * it; without it, the first use of TaskService (or a @TaskHandler at bootstrap) throws saying so.
 *
 * @example
 * { provide: TASK_BACKEND, inject: [CoordinationCore, TASK_OPTIONS], useFactory: createTaskBackend }
 */
export async function createTaskBackend(core: CoordinationCore, options: ResolvedTaskOptions): Promise<TaskBackend> {
  if (!core.connection) return new MemoryTaskBackend(core.clock, options);
  try {
    const { RedisTaskBackend } = await import('./redis-task.backend.js');
    return new RedisTaskBackend(core, options);
  } catch (error) {
    if (!isMissingBullmq(error)) throw error;
    return missingBullmq(error);
  }
}

function isMissingBullmq(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ERR_MODULE_NOT_FOUND' && /bullmq/.test(errorMessage(error));
}

/** A backend whose every use throws: the redis driver without the `bullmq` package. */
function missingBullmq(cause: unknown): TaskBackend {
  const fail = (): never => {
    throw new Error(`Tasks on the redis driver need the optional peer dependency "bullmq" (npm install bullmq): ${errorMessage(cause)}`, { cause });
  };
  const failAsync = () => Promise.resolve().then(fail);
  return { add: failAsync, get: failAsync, cancel: failAsync, retry: failAsync, failed: failAsync, list: failAsync, depth: failAsync, waitFor: failAsync, work: fail, close: () => Promise.resolve() };
}

/**
 * The task queue: TaskService (enqueue, get, cancel, retry, the failed view, ...) and
 * `@TaskHandler` workers, on BullMQ (redis driver) or an in-process queue (memory driver).
 *
 * @example
 * export const CAPABILITIES = [EVENTS_CAPABILITY, ..., TASKS_CAPABILITY] as const; // src/capabilities.ts
 */
export const TASKS_CAPABILITY = {
  name: 'tasks',
  options: { key: 'tasks', schema: TaskOptionsSchema, token: TASK_OPTIONS, resolve: resolveTaskOptions },
  providers: [
    { provide: TASK_BACKEND, inject: [CoordinationCore, TASK_OPTIONS], useFactory: createTaskBackend },
    // Internal (not exported): metrics and logs, and the explorer that starts @TaskHandler
    // methods at bootstrap (TaskService closes the backend, and so the workers, at shutdown).
    TaskObserver,
    TaskService,
    TaskHandlerExplorer,
  ],
  exports: [TaskService],
} as const satisfies CoordinationCapability<'tasks', TaskModuleOptions, ResolvedTaskOptions>;
