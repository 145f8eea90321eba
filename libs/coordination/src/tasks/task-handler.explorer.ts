import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { CoordinationCore } from '../core/coordination-core.js';
import { className, isStaticSingleton, ModuleOwnership, prototypeOf } from '../core/module-ownership.js';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { errorMessage } from '../events/error-message.js';
import { SHARED_TENANT } from '../keys/key-builder.js';
import { TASK_BACKEND, type RunningTask, type TaskBackend, type TaskProcessor } from './task-backend.interface.js';
import { taskHandlerMetadata } from './task-handler.decorator.js';
import { TaskObserver } from './task-observer.js';
import { TASK_OPTIONS, type ResolvedTaskOptions } from './task.options.js';
import { TASK_RUN } from './task.spans.js';
import type { TaskContext, TaskHandlerOptions } from './task.types.js';
import { checkConcurrency } from './task-validation.js';

/** Which module instance's explorer starts a provider's handlers (one per application). */
const ownership = new ModuleOwnership();
/** How often the tasks_depth gauges of the handled names are refreshed, ms. */
const DEPTH_REFRESH_MS = 5_000;

type Handler = (payload: unknown, context: TaskContext) => unknown;

/** One `@TaskHandler` method found at bootstrap. */
interface FoundHandler {
  /** `Class.method`, for logs and the duplicate error. */
  readonly owner: string;
  readonly handler: Handler;
  readonly options: TaskHandlerOptions;
}

/**
 * Finds `@TaskHandler` methods on the providers and controllers of this module instance at
 * bootstrap and starts one backend worker per task name (`backend.work`), each task run in its
 * tenant's context (the shared namespace's outside any tenant context, with no `tenant` in its
 * TaskContext), its metrics recorded from the outcome the backend reports (WorkOptions.onSettled).
 * Two handlers of one task name in one application fail the bootstrap, naming both. Request-scoped
 * and transient providers are skipped with a warning. At shutdown it stops refreshing the depth
 * gauges; TaskService closes the backend, which lets running tasks finish (bounded).
 *
 * @example
 * // Registered by CoordinationModule; nothing to do beyond decorating methods:
 * @TaskHandler(AGENT_STEP, { concurrency: 4 })
 * step(payload: StepPayload, task: TaskContext) {}
 */
@Injectable()
export class TaskHandlerExplorer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly names: string[] = [];
  private depthTimer?: NodeJS.Timeout;
  private refreshing = false;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly core: CoordinationCore,
    @Inject(TASK_OPTIONS) private readonly options: ResolvedTaskOptions,
    @Inject(TASK_BACKEND) private readonly backend: TaskBackend,
    private readonly observer: TaskObserver,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const handlers = await this.discover();
    // Metrics come from each attempt's outcome as the backend stored it, not from the handler's return.
    const onSettled = this.observer.settled.bind(this.observer);
    for (const [name, found] of handlers) {
      const concurrency = checkConcurrency(found.options.concurrency, this.options.concurrency);
      this.backend.work(name, { concurrency, onSettled }, this.traced(name, this.processor(name, found.handler)));
      this.names.push(name);
      this.observer.logger.log(`${found.owner} handles task ${JSON.stringify(name)} (concurrency ${concurrency})`);
    }
    if (this.names.length > 0) {
      this.depthTimer = setInterval(() => void this.refreshDepth(), DEPTH_REFRESH_MS);
      this.depthTimer.unref();
    }
  }

  /** Stops the depth refresh and removes the gauges (TaskService closes the workers). */
  beforeApplicationShutdown(): void {
    clearInterval(this.depthTimer);
    this.observer.dropGauges(this.names);
  }

  /** Every `@TaskHandler` of this module instance by task name; throws on a second handler of a name. */
  private async discover(): Promise<Map<string, FoundHandler>> {
    const handlers = new Map<string, FoundHandler>();
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const prototype = prototypeOf(wrapper);
      if (!prototype) continue;
      const methods = this.scanner.getAllMethodNames(prototype).filter((name) => taskHandlerMetadata(prototype[name]).length > 0);
      if (methods.length === 0 || !(await ownership.owns(wrapper, this.core))) continue;
      const owner = className(wrapper);
      if (!isStaticSingleton(wrapper)) {
        this.observer.logger.warn(`@TaskHandler on ${owner} (${methods.join(', ')}) ignored: ${owner} is not a singleton (request-scoped or transient)`);
        continue;
      }
      const instance = wrapper.instance as Record<string, unknown>;
      for (const method of methods) {
        const handler = (instance[method] as Handler).bind(instance);
        for (const { name, options } of taskHandlerMetadata(prototype[method])) {
          const other = handlers.get(name);
          if (other) {
            throw new InvalidArgumentError('task', `two @TaskHandler methods handle task ${JSON.stringify(name)}: ${other.owner} and ${owner}.${method}; one handler per task name`);
          }
          handlers.set(name, { owner: `${owner}.${method}`, handler, options });
        }
      }
    }
    return handlers;
  }

  /** `processor` inside a task.run span: a child of the enqueue's span the task carries. */
  private traced(name: string, processor: TaskProcessor): TaskProcessor {
    const { tracer } = this.core.telemetry;
    return (task) => {
      if (!tracer.enabled) return processor(task);
      const attributes = { 'coordination.task.id': tracer.key(`${name}:${task.jobId}`), 'coordination.task.attempt': task.attempt };
      return tracer.trace(TASK_RUN, task.tenant, name, () => processor(task), attributes, task.traceparent);
    };
  }

  /**
   * Runs one attempt of a task of `name` with `handler`, in the task's tenant context, keeping the
   * active gauge (the outcome is counted when the backend settles the attempt: observer.settled).
   */
  private processor(name: string, handler: Handler): TaskProcessor {
    const { tenants } = this.core;
    const { observer } = this;
    // Not async: a handler that returns synchronously (most of them) costs no extra promise turn.
    return (task: RunningTask) => {
      const series = observer.started(task);
      const context = contextOf(name, task);
      const run = () => handler(task.payload, context);
      let result: unknown;
      try {
        result = task.tenant === SHARED_TENANT ? tenants.exit(run) : tenants.run(task.tenant, run);
      } catch (error) {
        observer.ran(task, series, error);
        return Promise.reject(error);
      }
      if (!isThenable(result)) {
        observer.ran(task, series);
        return Promise.resolve(result);
      }
      return Promise.resolve(result).then(
        (value) => {
          observer.ran(task, series);
          return value;
        },
        (error: unknown) => {
          observer.ran(task, series, error);
          throw error;
        },
      );
    };
  }

  /** Refreshes tasks_depth of each handled name for the tenants this process saw (one refresh at a time). */
  private async refreshDepth(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      for (const name of this.names) {
        for (const tenant of this.observer.tenantsOf(name)) this.observer.depth(name, tenant, await this.backend.depth(name, tenant));
      }
    } catch (error) {
      this.observer.logger.debug(`Could not refresh the tasks_depth gauges: ${errorMessage(error)}`);
    } finally {
      this.refreshing = false;
    }
  }
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';

/** What the handler of one attempt receives besides the payload. */
function contextOf(name: string, task: RunningTask): TaskContext {
  return {
    id: `${name}:${task.jobId}`,
    name,
    jobId: task.jobId,
    // The shared namespace is no tenant: absent (passing it back as a tenant would be refused).
    ...(task.tenant === SHARED_TENANT ? {} : { tenant: task.tenant }),
    attempt: task.attempt,
    attempts: task.attempts,
    enqueuedAt: new Date(task.enqueuedAtMs),
    // Read through: the worker creates the signal only if the handler looks at it.
    get signal() {
      return task.signal;
    },
    progress: (value: number | object) => {
      if (!(typeof value === 'number' && Number.isFinite(value)) && (typeof value !== 'object' || value === null)) {
        return Promise.reject(new InvalidArgumentError('value', 'must be a finite number or an object'));
      }
      return task.progress(value);
    },
  };
}
