import { InvalidArgumentError } from '../errors/coordination.error.js';
import { DEFAULT_TASK_OPTIONS } from './task.options.js';
import type { TaskContext, TaskDefinition, TaskHandlerOptions, TaskRef } from './task.types.js';
import { checkConcurrency, checkOptions, OPTION_KEYS, taskName } from './task-validation.js';

/**
 * Metadata key under which `@TaskHandler` stores its handlers on the method.
 *
 * @example
 * Reflect.getMetadata(TASK_HANDLER_METADATA, AgentWorker.prototype.step); // [{ name: 'agent.step', options: {} }]
 */
export const TASK_HANDLER_METADATA = 'coordination:task-handler';

/**
 * One handler `@TaskHandler` recorded on a method.
 *
 * @example
 * const [{ name, options }] = taskHandlerMetadata(AgentWorker.prototype.step);
 */
export interface TaskHandlerMetadata {
  readonly name: string;
  readonly options: TaskHandlerOptions;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/** The method type a `@TaskHandler` of `T` accepts: typed by a TaskDefinition, anything for a plain name. */
type HandlerOf<T> =
  T extends TaskDefinition<infer P, infer R>
    ? (payload: P, context: TaskContext) => R | Promise<R>
    : (payload: any, context: TaskContext) => unknown;
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * Runs the tasks of `task` with the decorated method, from the application's bootstrap until its
 * shutdown (which lets running tasks finish, bounded by `tasks.shutdownTimeoutMs`; then their
 * `context.signal` aborts). The method receives the payload and a TaskContext; its return value
 * (JSON) completes the task, a throw fails the attempt (retried with backoff while attempts remain;
 * `UnrecoverableTaskError` fails the task at once). Each task runs in its tenant's context.
 * Works on providers and controllers with a static scope (request-scoped ones are skipped with a
 * warning); one handler per task name in an application (two are a startup error).
 *
 * The decorator only records metadata (its arguments are checked here, so a bad one fails when
 * the class is defined); TaskHandlerExplorer starts the workers.
 *
 * @example
 * @Injectable()
 * export class AgentWorker {
 *   @TaskHandler(AGENT_STEP, { concurrency: 4 })
 *   async step(payload: StepPayload, task: TaskContext): Promise<StepResult> {
 *     await task.progress(10);
 *     return this.agents.run(payload);
 *   }
 * }
 */
export function TaskHandler<T extends TaskRef>(task: T, options: TaskHandlerOptions = {}) {
  const name = taskName(task, 'task');
  checkOptions(options, 'options', OPTION_KEYS.handler);
  checkConcurrency(options.concurrency, DEFAULT_TASK_OPTIONS.concurrency);
  const entry: TaskHandlerMetadata = Object.freeze({ name, options: { ...options } });
  return <H extends HandlerOf<T>>(target: object, property: string | symbol, descriptor: TypedPropertyDescriptor<H>): TypedPropertyDescriptor<H> => {
    if (typeof target === 'function') {
      throw new InvalidArgumentError('target', `@TaskHandler on ${target.name}.${String(property)}: only instance methods of providers or controllers can handle tasks`);
    }
    const method = descriptor.value as object;
    Reflect.defineMetadata(TASK_HANDLER_METADATA, [...taskHandlerMetadata(method), entry], method);
    return descriptor;
  };
}

/**
 * The handlers `@TaskHandler` recorded on a method (empty when none).
 *
 * @example
 * for (const { name, options } of taskHandlerMetadata(prototype[method])) start(name, options);
 */
export function taskHandlerMetadata(method: unknown): TaskHandlerMetadata[] {
  if (typeof method !== 'function') return [];
  return (Reflect.getMetadata(TASK_HANDLER_METADATA, method) as TaskHandlerMetadata[] | undefined) ?? [];
}
