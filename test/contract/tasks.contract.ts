import { jest } from '@jest/globals';
import { Injectable, type Type } from '@nestjs/common';
import {
  CoordinationCore, InvalidArgumentError, TaskHandler, TaskNotFoundError, TaskService, TaskStateError, TenantInvalidError, UnrecoverableTaskError,
  defineTask, type TaskContext, type TaskModuleOptions,
} from '@nest-coordination/core';
import { TASK_BACKEND, type TaskBackend } from '../../libs/coordination/src/tasks/task-backend.interface.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { rejectionOf } from '../support/wait.js';

/** How long a test waits for a task to run, retry or finish: a bound for a broken behaviour, not a speed assertion. */
export const RUN_MS = 15_000;

/** A promise and its resolver, to hold a handler until the test lets it go. */
export function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Handles `echo`: records each run with the tenant context it ran in, returns the payload and that tenant. */
@Injectable()
export class EchoWorker {
  readonly runs: Array<{ payload: unknown; tenant: string | undefined; task: TaskContext }> = [];
  constructor(private readonly core: CoordinationCore) {}

  @TaskHandler('echo', { concurrency: 4 })
  async echo(payload: unknown, task: TaskContext): Promise<{ echo: unknown; tenant: string | null }> {
    await task.progress(100);
    const tenant = this.core.tenants.current();
    this.runs.push({ payload, tenant, task });
    return { echo: payload, tenant: tenant ?? null };
  }
}

export const ADD = defineTask<{ a: number; b: number }, { sum: number }>('math.add');

/** Handles the typed ADD definition. */
@Injectable()
export class AddWorker {
  @TaskHandler(ADD)
  add(payload: { a: number; b: number }): { sum: number } {
    return { sum: payload.a + payload.b };
  }
}

/** Handles `flaky`: fails every attempt (UnrecoverableTaskError when asked) until the test heals the job. */
@Injectable()
export class FlakyWorker {
  readonly attempts: Array<{ jobId: string; attempt: number }> = [];
  readonly healed = new Set<string>();

  @TaskHandler('flaky')
  run(payload: { unrecoverable?: boolean }, task: TaskContext): string {
    this.attempts.push({ jobId: task.jobId, attempt: task.attempt });
    if (this.healed.has(task.jobId)) return 'healed';
    if (payload.unrecoverable) throw new UnrecoverableTaskError('bad input');
    throw new Error(`attempt ${task.attempt} failed`);
  }
}

/** Handles `gated`: each run waits for the worker's gate. */
@Injectable()
export class GatedWorker {
  readonly started: string[] = [];
  readonly finished: string[] = [];
  readonly signals: AbortSignal[] = [];
  readonly gate = gate();

  @TaskHandler('gated', { concurrency: 2 })
  async run(_payload: unknown, task: TaskContext): Promise<string> {
    this.started.push(task.jobId);
    this.signals.push(task.signal);
    await this.gate.promise;
    this.finished.push(task.jobId);
    return 'done';
  }
}

export const WORKERS = [EchoWorker, AddWorker, FlakyWorker, GatedWorker];

/** A module with TaskService and the test workers, plus the backend for call counting. */
export interface TasksApp {
  readonly booted: BootedModule;
  readonly tasks: TaskService;
  readonly core: CoordinationCore;
  readonly backend: TaskBackend;
  readonly prefix: string;
  worker<T>(type: Type<T>): T;
  close(): Promise<void>;
}

/**
 * Boots CoordinationModule on `driver` with the test workers and the `tasks` options given
 * (a unique prefix unless one is passed: reboot with it to see what a closed app left).
 *
 * @example
 * const app = await tasksApp(driver, { shutdownTimeoutMs: 5_000 });
 */
export async function tasksApp(driver: DriverCase, tasks: TaskModuleOptions = {}, prefix = uniquePrefix('tasks')): Promise<TasksApp> {
  const booted = await bootModule({ ...driver.options(), prefix, tasks: { shutdownTimeoutMs: 10_000, ...tasks } }, { providers: WORKERS });
  let closed: Promise<void> | undefined;
  return {
    booted,
    prefix,
    tasks: booted.get(TaskService),
    core: booted.core,
    backend: booted.get<TaskBackend>(TASK_BACKEND),
    worker: (type) => booted.get(type),
    close: () => (closed ??= booted.close()),
  };
}

/** Boots a TasksApp before each test of the enclosing block and closes it after. */
export function tasksAppEach(driver: DriverCase, use: (app: TasksApp) => void): void {
  let app: TasksApp;
  beforeEach(async () => {
    app = await tasksApp(driver);
    use(app);
  });
  afterEach(() => app.close());
}

/**
 * What TaskService promises on every backend, through the Nest module: enqueue → handler →
 * result, typed definitions, input checks, tenant isolation, cancel and retry errors. Retries,
 * metrics and shutdown: tasks.contract-lifecycle.ts.
 */
export function describeTaskServiceContract(driver: DriverCase): void {
  let app!: TasksApp;
  let tasks!: TaskService;
  tasksAppEach(driver, (booted) => {
    app = booted;
    tasks = booted.tasks;
  });

  it('runs an enqueued task with its @TaskHandler and reports it completed with its result (waitFor, get)', async () => {
    const enqueued = await tasks.enqueue('echo', { n: 1 }, { tenant: 'acme', priority: 3 });
    expect(enqueued).toMatchObject({ name: 'echo', tenant: 'acme', priority: 3, payload: { n: 1 }, attempts: 3 });
    expect(enqueued.id).toBe(`echo:${enqueued.jobId}`);
    expect(enqueued.jobId).toMatch(/^[0-9a-f-]{36}$/);
    expect(enqueued.enqueuedAt).toBeInstanceOf(Date);
    const done = await tasks.waitFor(enqueued.id, { tenant: 'acme', timeoutMs: RUN_MS });
    expect(done).toMatchObject({ id: enqueued.id, state: 'completed', attemptsMade: 1, result: { echo: { n: 1 }, tenant: 'acme' }, progress: 100 });
    expect(done.finishedAt).toBeInstanceOf(Date);
    expect(done.startedAt).toBeInstanceOf(Date);
    expect(await tasks.get(enqueued.id, { tenant: 'acme' })).toMatchObject({ state: 'completed', result: { echo: { n: 1 }, tenant: 'acme' } });
    const [run] = app.worker(EchoWorker).runs;
    expect(run.task).toMatchObject({ id: enqueued.id, name: 'echo', jobId: enqueued.jobId, tenant: 'acme', attempt: 1, attempts: 3 });
    expect(run.task.signal.aborted).toBe(false);
  });

  it('types enqueue, waitFor and the handler by a definition, and enqueues many at once with their own options', async () => {
    const task = await tasks.enqueue(ADD, { a: 2, b: 3 }, { tenant: 'acme' });
    const done = await tasks.waitFor(task.id, { tenant: 'acme', timeoutMs: RUN_MS });
    expect(done.result?.sum).toBe(5);
    const many = await tasks.enqueueMany(ADD, [{ payload: { a: 1, b: 1 }, jobId: 'one' }, { payload: { a: 2, b: 2 }, jobId: 'two', priority: -2 }], { tenant: 'acme' });
    expect(many.map((t) => [t.id, t.priority])).toEqual([['math.add:one', 0], ['math.add:two', -2]]);
    const results = await Promise.all(many.map((t) => tasks.waitFor(t.id, { tenant: 'acme', timeoutMs: RUN_MS })));
    expect(results.map((t) => t.result?.sum)).toEqual([2, 4]);
    const again = await tasks.enqueue(ADD, { a: 9, b: 9 }, { tenant: 'acme', jobId: 'one' });
    expect(again).toMatchObject({ id: 'math.add:one', payload: { a: 1, b: 1 } }); // deduplicated: the kept task
  });

  it('refuses bad input naming the argument, before any backend call', async () => {
    const calls = (['add', 'get', 'cancel', 'retry', 'failed', 'list', 'depth', 'waitFor'] as const).map((method) => jest.spyOn(app.backend, method));
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const cases: Array<[Promise<unknown>, string]> = [
      [tasks.enqueue('bad name', {}), 'name'],
      [tasks.enqueue('x'.repeat(101), {}), 'name'],
      [tasks.enqueue({ name: 42 } as never, {}), 'name'],
      [tasks.enqueue('echo', cycle), 'payload'],
      [tasks.enqueue('echo', undefined), 'payload'],
      [tasks.enqueue('echo', 1n), 'payload'],
      [tasks.enqueue('echo', {}, { jobId: 'a:b' }), 'options.jobId'],
      [tasks.enqueue('echo', {}, { jobId: '' }), 'options.jobId'],
      [tasks.enqueue('echo', {}, { jobId: 'x'.repeat(129) }), 'options.jobId'],
      [tasks.enqueue('echo', {}, { priority: 11 }), 'options.priority'],
      [tasks.enqueue('echo', {}, { priority: 1.5 }), 'options.priority'],
      [tasks.enqueue('echo', {}, { delayMs: -1 }), 'options.delayMs'],
      [tasks.enqueue('echo', {}, { attempts: 0 }), 'options.attempts'],
      [tasks.enqueue('echo', {}, { backoff: { type: 'linear' as never, delayMs: 1 } }), 'options.backoff.type'],
      [tasks.enqueue('echo', {}, { backoff: { type: 'fixed', delayMs: -1 } }), 'options.backoff.delayMs'],
      [tasks.enqueue('echo', {}, 'fast' as never), 'options'],
      [tasks.enqueueMany('echo', [{ payload: 1 }, { payload: 2, priority: -11 }]), 'items[1].priority'],
      [tasks.enqueueMany('echo', [{ payload: 1 }, null as never]), 'items[1]'],
      [tasks.enqueueMany('echo', 'x' as never), 'items'],
      [tasks.get('no-colon'), 'id'],
      [tasks.get('bad name:1'), 'id'],
      [tasks.cancel('echo:'), 'id'],
      [tasks.retry(42 as never), 'id'],
      [tasks.waitFor('echo:1', { timeoutMs: 0 }), 'options.timeoutMs'],
      [tasks.list('echo', { limit: 0 }), 'options.limit'],
      [tasks.failed('echo', { offset: -1 }), 'options.offset'],
      [tasks.depth('bad name'), 'name'],
    ];
    for (const [call, argument] of cases) {
      const error = await rejectionOf(call);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe(argument);
    }
    expect(await rejectionOf(tasks.enqueue('echo', {}, { tenant: 'a*b' }))).toBeInstanceOf(TenantInvalidError);
    for (const spy of calls) expect(spy).not.toHaveBeenCalled();
  });

  it("runs a task in its tenant's context and keeps it from other tenants", async () => {
    const fromContext = await app.core.tenants.run('acme', () => tasks.enqueue('echo', { from: 'context' }));
    expect(fromContext.tenant).toBe('acme');
    const globex = await tasks.enqueue('echo', { from: 'option' }, { tenant: 'globex' });
    await tasks.waitFor(fromContext.id, { tenant: 'acme', timeoutMs: RUN_MS });
    await tasks.waitFor(globex.id, { tenant: 'globex', timeoutMs: RUN_MS });
    const ran = app.worker(EchoWorker).runs.map((run) => [(run.payload as { from: string }).from, run.tenant, run.task.tenant]);
    expect(ran.sort()).toEqual([['context', 'acme', 'acme'], ['option', 'globex', 'globex']]);

    expect(await tasks.get(fromContext.id, { tenant: 'globex' })).toBeNull();
    expect(await rejectionOf(tasks.cancel(fromContext.id, { tenant: 'globex' }))).toBeInstanceOf(TaskNotFoundError);
    expect(await rejectionOf(tasks.retry(fromContext.id, { tenant: 'globex' }))).toBeInstanceOf(TaskNotFoundError);
    expect(await rejectionOf(tasks.waitFor(fromContext.id, { tenant: 'globex', timeoutMs: 1_000 }))).toBeInstanceOf(TaskNotFoundError);
    expect((await tasks.list('echo', { tenant: 'globex' })).map((t) => t.id)).toEqual([globex.id]);
    expect(await tasks.get(fromContext.id, { tenant: 'acme' })).not.toBeNull();
  });

  it('cancels waiting and delayed tasks only, and throws TaskNotFoundError / TaskStateError otherwise', async () => {
    // Depth counts tasks enqueued without a delay (or put back by retry) that have not started:
    // a task of a name nothing handles waits; a delayed one does not count.
    const waiting = await tasks.enqueue('unhandled', { n: 0 }, { tenant: 'acme' });
    expect(waiting.state).toBe('waiting');
    const later = await tasks.enqueue('unhandled', { n: 1 }, { tenant: 'acme', delayMs: 600_000 });
    expect(later.state).toBe('delayed');
    expect(await tasks.depth('unhandled', { tenant: 'acme' })).toBe(1);
    await tasks.cancel(waiting.id, { tenant: 'acme' });
    expect(await tasks.depth('unhandled', { tenant: 'acme' })).toBe(0);
    await tasks.cancel(later.id, { tenant: 'acme' });
    expect(await tasks.get(later.id, { tenant: 'acme' })).toBeNull();
    expect(await tasks.depth('unhandled', { tenant: 'acme' })).toBe(0);
    const missing = await rejectionOf(tasks.cancel(later.id, { tenant: 'acme' }));
    expect(missing).toBeInstanceOf(TaskNotFoundError);
    expect(missing).toMatchObject({ taskId: later.id });

    const done = await tasks.enqueue('echo', { n: 2 }, { tenant: 'acme' });
    await tasks.waitFor(done.id, { tenant: 'acme', timeoutMs: RUN_MS });
    expect(await rejectionOf(tasks.cancel(done.id, { tenant: 'acme' }))).toMatchObject({ constructor: TaskStateError, operation: 'cancel', state: 'completed' });
    expect(await rejectionOf(tasks.retry(done.id, { tenant: 'acme' }))).toMatchObject({ constructor: TaskStateError, operation: 'retry', state: 'completed' });
    expect(await rejectionOf(tasks.retry('echo:never-enqueued', { tenant: 'acme' }))).toBeInstanceOf(TaskNotFoundError);
  });
}
