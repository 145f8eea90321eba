import { CoordinationError, ErrorCode } from '../errors/coordination.error.js';
import type { TaskState } from './task.types.js';

/**
 * `cancel` or `retry` named a task the current tenant does not have (never enqueued, removed after
 * it finished, or another tenant's).
 *
 * @example
 * try { await tasks.retry(id); } catch (e) { if (e instanceof TaskNotFoundError) return res.status(404).end(); }
 */
export class TaskNotFoundError extends CoordinationError {
  constructor(readonly taskId: string) {
    super(ErrorCode.TaskNotFound, `No task ${JSON.stringify(taskId)} (unknown, removed after it finished, or another tenant's)`, { taskId });
  }
}

/**
 * `cancel` or `retry` found the task in a state that does not allow it: only a waiting or delayed
 * task can be cancelled, only a failed one (attempts exhausted) retried.
 *
 * @example
 * catch (e) { if (e instanceof TaskStateError && e.state === 'active') { ... } }
 */
export class TaskStateError extends CoordinationError {
  constructor(readonly taskId: string, readonly operation: 'cancel' | 'retry', readonly state: TaskState) {
    super(ErrorCode.TaskState, `Cannot ${operation} task ${JSON.stringify(taskId)}: it is ${state}`, { taskId, operation, state });
  }
}

/**
 * `waitFor` gave up: the task had not completed or failed within `timeoutMs` (it goes on).
 *
 * @example
 * try { await tasks.waitFor(id, { timeoutMs: 5_000 }); } catch (e) { if (e instanceof TaskTimeoutError) {} }
 */
export class TaskTimeoutError extends CoordinationError {
  constructor(readonly taskId: string, readonly timeoutMs: number) {
    super(ErrorCode.TaskTimeout, `Task ${JSON.stringify(taskId)} did not finish within ${timeoutMs}ms`, { taskId, timeoutMs });
  }
}

/**
 * `waitFor` was pending (or called) while the application shut down: this instance stops
 * watching tasks. The task itself goes on (another instance, or this one after a restart, runs it).
 *
 * @example
 * try { await tasks.waitFor(id); } catch (e) { if (e instanceof TaskShutdownError) return res.status(503).end(); }
 */
export class TaskShutdownError extends CoordinationError {
  constructor(readonly taskId: string) {
    super(ErrorCode.TaskShutdown, `Stopped waiting for task ${JSON.stringify(taskId)}: the application is shutting down`, { taskId });
  }
}

/**
 * Thrown by a task handler to fail the task at once, without the remaining attempts (bad input
 * that no retry will fix). The task goes to the failed (dead-letter) view with this message.
 *
 * @example
 * @TaskHandler('email.send')
 * async send(mail: Mail) {
 *   if (!mail.to.includes('@')) throw new UnrecoverableTaskError(`invalid address ${mail.to}`);
 * }
 */
export class UnrecoverableTaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnrecoverableTaskError';
  }
}
