import type { TaskDefinition } from './task.types.js';
import { taskName } from './task-validation.js';

/**
 * Names a task together with the types of its payload and result, so that `enqueue`,
 * `enqueueMany` and `@TaskHandler` are typed by it. The name is checked here (a letter or digit,
 * then letters, digits, `.`, `_` or `-`; at most 100 characters): a bad one fails where the
 * definition is declared.
 *
 * @example
 * export const AGENT_STEP = defineTask<{ runId: string; agent: string }, { tokens: number }>('agent.step');
 * const task = await tasks.enqueue(AGENT_STEP, { runId: 'r-1', agent: 'planner' }); // typed payload
 *
 * @TaskHandler(AGENT_STEP)
 * async step(payload: { runId: string; agent: string }): Promise<{ tokens: number }> { ... }
 */
export function defineTask<P = unknown, R = unknown>(name: string): TaskDefinition<P, R> {
  return Object.freeze({ name: taskName(name) });
}
