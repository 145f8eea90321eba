import { jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { HTTP_STATUS_BY_CODE, InvalidArgumentError, TaskHandler, TaskService, TaskShutdownError, type TaskContext } from '@nest-coordination/core';
import { TaskObserver } from '../../libs/coordination/src/tasks/task-observer.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { rejectionOf, until } from '../support/wait.js';
import { EchoWorker, FlakyWorker, RUN_MS, tasksAppEach, type TasksApp } from './tasks.contract.js';

/** Handles `aborting` (rejects once its signal aborts) and `unstorable` (returns a BigInt, which JSON cannot carry). */
@Injectable()
class EdgeWorker {
  readonly started: string[] = [];

  @TaskHandler('aborting')
  async aborting(_payload: unknown, task: TaskContext): Promise<never> {
    this.started.push(task.jobId);
    await new Promise((resolve) => task.signal.addEventListener('abort', resolve));
    throw new Error('aborted');
  }

  @TaskHandler('unstorable')
  unstorable(): unknown {
    return 1n;
  }
}

const bootEdge = (driver: DriverCase, shutdownTimeoutMs = 10_000): Promise<BootedModule> =>
  bootModule({ ...driver.options(), prefix: uniquePrefix('tasks'), tasks: { shutdownTimeoutMs } }, { providers: [EdgeWorker] });

/**
 * What TaskService promises about metrics taken from each attempt's outcome, the shared
 * namespace, strict options, and pending waits at shutdown.
 */
export function describeTaskOutcomeContract(driver: DriverCase): void {
  describe('with an app per test', () => {
    let app!: TasksApp;
    let tasks!: TaskService;
    tasksAppEach(driver, (booted) => {
      app = booted;
      tasks = booted.tasks;
    });

    it('counts tasks_enqueued_total once for a deduplicated jobId', async () => {
      await tasks.enqueue('echo', 1, { tenant: 'acme', jobId: 'once', delayMs: 600_000 });
      const again = await tasks.enqueue('echo', 2, { tenant: 'acme', jobId: 'once', delayMs: 600_000 });
      expect(again.payload).toBe(1);
      await tasks.enqueueMany('echo', [{ payload: 3, jobId: 'once', delayMs: 600_000 }, { payload: 4, jobId: 'twice', delayMs: 600_000 }], { tenant: 'acme' });
      expect(app.core.metrics.counter('tasks_enqueued_total', { task: 'echo', tenant: 'acme' })).toBe(2);
    });

    it('runs a task of the shared namespace with no tenant, and gets, cancels and retries it without one', async () => {
      const task = await tasks.enqueue('echo', { shared: true });
      expect(task.tenant).toBeUndefined();
      const done = await tasks.waitFor(task.id, { timeoutMs: RUN_MS });
      expect(done).toMatchObject({ state: 'completed', result: { echo: { shared: true }, tenant: null } });
      expect(done.tenant).toBeUndefined();
      expect(app.worker(EchoWorker).runs[0].task.tenant).toBeUndefined();
      expect((await tasks.get(task.id))?.tenant).toBeUndefined();
      expect((await tasks.list('echo')).map((t) => t.tenant)).toEqual([undefined]);

      const later = await tasks.enqueue('echo', {}, { delayMs: 600_000 });
      await tasks.cancel(later.id);
      expect(await tasks.get(later.id)).toBeNull();

      const bad = await tasks.enqueue('flaky', { unrecoverable: true });
      expect((await tasks.waitFor(bad.id, { timeoutMs: RUN_MS })).state).toBe('failed');
      app.worker(FlakyWorker).healed.add(bad.jobId);
      await tasks.retry(bad.id);
      await until(async () => (await tasks.get(bad.id))?.state === 'completed', { timeoutMs: RUN_MS, message: 'the retried shared task to complete' });
    });

    // On redis the shared namespace's own failed view once shared its key with BullMQ's failed set.
    it('shows a failed task of the shared namespace in the failed view, with no tenant', async () => {
      const bad = await tasks.enqueue('flaky', { unrecoverable: true });
      expect((await tasks.waitFor(bad.id, { timeoutMs: RUN_MS })).state).toBe('failed');
      expect((await tasks.failed('flaky')).map((t) => [t.id, t.tenant])).toEqual([[bad.id, undefined]]);
    });

    it('refuses unknown option keys, naming them, before any backend call', async () => {
      const calls = (['add', 'get', 'cancel', 'retry', 'failed', 'list', 'depth', 'waitFor'] as const).map((method) => jest.spyOn(app.backend, method));
      const cases: Array<[Promise<unknown>, string]> = [
        [tasks.enqueue('echo', {}, { prio: 1 } as never), 'options.prio'],
        [tasks.enqueue('echo', {}, { backoff: { type: 'fixed', delayMs: 1, jitter: 1 } as never }), 'options.backoff.jitter'],
        [tasks.enqueueMany('echo', [{ payload: 1 }, { payload: 1, tenant: 'globex' } as never], { tenant: 'acme' }), 'items[1].tenant'],
        [tasks.enqueueMany('echo', [{ payload: 1 }], { tenant: 'acme', priority: 1 } as never), 'options.priority'],
        [tasks.get('echo:1', { tenat: 'acme' } as never), 'options.tenat'],
        [tasks.cancel('echo:1', { force: true } as never), 'options.force'],
        [tasks.retry('echo:1', { now: true } as never), 'options.now'],
        [tasks.depth('echo', { state: 'waiting' } as never), 'options.state'],
        [tasks.list('echo', { limt: 5 } as never), 'options.limt'],
        [tasks.failed('echo', { offset: 1.5 }), 'options.offset'],
        [tasks.list('echo', { limit: 0 }), 'options.limit'],
        [tasks.waitFor('echo:1', { timeout: 5 } as never), 'options.timeout'],
        [tasks.waitFor('echo:1', { timeoutMs: 50.5 }), 'options.timeoutMs'],
      ];
      for (const [call, argument] of cases) {
        const error = await rejectionOf(call);
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).argument).toBe(argument);
      }
      for (const [options, argument] of [[{ concurrency: 0 }, 'options.concurrency'], [{ concurency: 2 }, 'options.concurency']] as const) {
        let error: unknown;
        try {
          TaskHandler('echo', options as never);
        } catch (caught) {
          error = caught;
        }
        expect(error).toMatchObject({ constructor: InvalidArgumentError, argument });
      }
      for (const spy of calls) expect(spy).not.toHaveBeenCalled();
    });

    it('removes the tasks_depth series of a tenant it stops refreshing (at most 1 000 per name)', () => {
      const observer = app.booted.get(TaskObserver);
      for (let index = 0; index <= 1_000; index++) observer.depth('echo', `t${index}`, 1);
      expect(app.core.metrics.gauge('tasks_depth', { task: 'echo', tenant: 't1000' })).toBe(1);
      expect(app.core.metrics.gauge('tasks_depth', { task: 'echo', tenant: 't1' })).toBe(1);
      expect(app.core.metrics.gauge('tasks_depth', { task: 'echo', tenant: 't0' })).toBeUndefined();
      expect(observer.tenantsOf('echo')).toHaveLength(1_000);
    });
  });

  it('fails a task whose result cannot be stored, and counts it failed, not completed', async () => {
    const booted = await bootEdge(driver);
    try {
      const tasks = booted.get(TaskService);
      const task = await tasks.enqueue('unstorable', {}, { tenant: 'acme', attempts: 1 });
      expect((await tasks.waitFor(task.id, { tenant: 'acme', timeoutMs: RUN_MS })).state).toBe('failed');
      const labels = { task: 'unstorable', tenant: 'acme' };
      await until(() => booted.core.metrics.counter('tasks_failed_total', labels) === 1, { timeoutMs: RUN_MS, message: 'tasks_failed_total to be 1' });
      expect(booted.core.metrics.counter('tasks_completed_total', labels)).toBe(0);
    } finally {
      await booted.close();
    }
  });

  it('counts an attempt cut off at shutdown (handed back) as neither failed nor retried', async () => {
    const booted = await bootEdge(driver, 200);
    const tasks = booted.get(TaskService);
    await tasks.enqueue('aborting', {}, { tenant: 'acme', attempts: 1 });
    await until(() => booted.get(EdgeWorker).started.length === 1, { timeoutMs: RUN_MS, message: 'the task to start' });
    await booted.close();
    const labels = { task: 'aborting', tenant: 'acme' };
    for (const counter of ['tasks_failed_total', 'tasks_retried_total', 'tasks_completed_total']) {
      expect([counter, booted.core.metrics.counter(counter, labels)]).toEqual([counter, 0]);
    }
  });

  it('rejects a waitFor pending at shutdown, and any later one, with TaskShutdownError', async () => {
    const booted = await bootEdge(driver);
    const tasks = booted.get(TaskService);
    const later = await tasks.enqueue('aborting', {}, { tenant: 'acme', delayMs: 600_000 });
    const waiting = rejectionOf(tasks.waitFor(later.id, { tenant: 'acme', timeoutMs: 600_000 }));
    await booted.close();
    const error = await waiting;
    expect(error).toBeInstanceOf(TaskShutdownError);
    expect(error).toMatchObject({ code: 'E_TASK_SHUTDOWN', taskId: later.id });
    expect(HTTP_STATUS_BY_CODE.E_TASK_SHUTDOWN).toBe(503);
    expect(await rejectionOf(tasks.waitFor(later.id, { tenant: 'acme', timeoutMs: 1_000 }))).toBeInstanceOf(TaskShutdownError);
  });
}
