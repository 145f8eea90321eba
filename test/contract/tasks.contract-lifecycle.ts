import { Injectable } from '@nestjs/common';
import { CoordinationModule, TaskHandler, TaskService } from '@nest-coordination/core';
import { bootFailure } from '../support/boot.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { sleep, until } from '../support/wait.js';
import { EchoWorker, FlakyWorker, GatedWorker, RUN_MS, tasksApp, tasksAppEach, type TasksApp } from './tasks.contract.js';

/** A second handler of `echo`, for the duplicate check. */
@Injectable()
class SecondEcho {
  @TaskHandler('echo')
  again(): void {}
}

/** Attempts of the retry tests: three, 10 ms apart. */
const RETRIES = { attempts: 3, backoff: { type: 'fixed', delayMs: 10 } } as const;

/**
 * What TaskService promises on every backend about a task's life: retries with backoff, the
 * failed (dead-letter) view and retry, metrics, graceful shutdown, and the boot-time check of
 * handlers.
 */
export function describeTaskLifecycleContract(driver: DriverCase): void {
  describe('with an app per test', () => {
    let app!: TasksApp;
    let tasks!: TaskService;
    tasksAppEach(driver, (booted) => {
      app = booted;
      tasks = booted.tasks;
    });

    it('retries a failing task with backoff, then shows it in the failed view, and retry runs it again', async () => {
      const flaky = app.worker(FlakyWorker);
      const task = await tasks.enqueue('flaky', {}, { tenant: 'acme', ...RETRIES });
      const failed = await tasks.waitFor(task.id, { tenant: 'acme', timeoutMs: RUN_MS });
      expect(failed).toMatchObject({ state: 'failed', attemptsMade: 3, attempts: 3, failedReason: 'attempt 3 failed' });
      expect(flaky.attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
      expect((await tasks.failed('flaky', { tenant: 'acme' })).map((t) => t.id)).toEqual([task.id]);
      expect(await tasks.failed('flaky', { tenant: 'globex' })).toEqual([]);

      flaky.healed.add(task.jobId);
      await tasks.retry(task.id, { tenant: 'acme' });
      expect(await tasks.failed('flaky', { tenant: 'acme' })).toEqual([]);
      const healed = await until(async () => {
        const current = await tasks.get(task.id, { tenant: 'acme' });
        return current?.state === 'completed' && current;
      }, { timeoutMs: RUN_MS, message: 'the retried task to complete' });
      expect(healed.result).toBe('healed');
    });

    it('fails a task at once on UnrecoverableTaskError, whatever attempts remain', async () => {
      const task = await tasks.enqueue('flaky', { unrecoverable: true }, { tenant: 'acme', attempts: 5 });
      const failed = await tasks.waitFor(task.id, { tenant: 'acme', timeoutMs: RUN_MS });
      expect(failed).toMatchObject({ state: 'failed', attemptsMade: 1, failedReason: 'bad input' });
      expect(app.worker(FlakyWorker).attempts).toHaveLength(1);
      expect((await tasks.failed('flaky', { tenant: 'acme' })).map((t) => t.id)).toEqual([task.id]);
    });

    it('records metrics per task name and tenant', async () => {
      const metrics = app.core.metrics;
      const ok = await tasks.enqueue('echo', {}, { tenant: 'acme' });
      const bad = await tasks.enqueue('flaky', {}, { tenant: 'globex', ...RETRIES });
      await tasks.waitFor(ok.id, { tenant: 'acme', timeoutMs: RUN_MS });
      await tasks.waitFor(bad.id, { tenant: 'globex', timeoutMs: RUN_MS });
      const echo = { task: 'echo', tenant: 'acme' };
      const flaky = { task: 'flaky', tenant: 'globex' };
      expect(metrics.counter('tasks_enqueued_total', echo)).toBe(1);
      expect(metrics.counter('tasks_completed_total', echo)).toBe(1);
      expect(metrics.counter('tasks_enqueued_total', flaky)).toBe(1);
      expect(metrics.counter('tasks_retried_total', flaky)).toBe(2);
      expect(metrics.counter('tasks_failed_total', flaky)).toBe(1);
      expect(metrics.counter('tasks_completed_total', flaky)).toBe(0);
      expect(metrics.counter('tasks_enqueued_total', { task: 'echo', tenant: 'globex' })).toBe(0);
      expect(metrics.gauge('tasks_active', echo)).toBe(0);
      const histograms = metrics.snapshot().histograms;
      const count = (name: string, labels: object) => histograms.find((h) => h.name === name && JSON.stringify(h.labels) === JSON.stringify(labels))?.count;
      expect(count('tasks_run_ms', echo)).toBe(1);
      expect(count('tasks_wait_ms', echo)).toBe(1);
      expect(count('tasks_run_ms', flaky)).toBe(3);
      expect(count('tasks_wait_ms', flaky)).toBe(1); // first attempts only: a retry's backoff is no queue wait

      // Depth counts tasks enqueued without a delay that have not started: two gated tasks hold
      // the handler's two slots, so the third waits; a delayed task does not count.
      const gated = app.worker(GatedWorker);
      const held = { task: 'gated', tenant: 'acme' };
      await tasks.enqueueMany('gated', [{ payload: 1 }, { payload: 2 }], { tenant: 'acme' });
      await until(() => gated.started.length === 2, { timeoutMs: RUN_MS, message: 'two gated tasks to start' });
      await tasks.enqueue('gated', 3, { tenant: 'acme' });
      await tasks.enqueue('gated', 4, { tenant: 'acme', delayMs: 600_000 });
      // The depth gauges of handled names are refreshed every 5 s.
      await until(() => metrics.gauge('tasks_depth', held) === 1, { timeoutMs: RUN_MS, message: 'tasks_depth of gated/acme to be 1' });
      gated.gate.open();
    });
  });

  it('waits at shutdown for a running task to finish, which completes it', async () => {
    const app = await tasksApp(driver);
    const gated = app.worker(GatedWorker);
    const task = await app.tasks.enqueue('gated', {}, { tenant: 'acme' });
    await until(() => gated.started.length === 1, { timeoutMs: RUN_MS, message: 'the gated task to start' });
    let closed = false;
    const closing = app.close().then(() => (closed = true));
    // Lets time pass on purpose: the close must not resolve while the handler still runs.
    await sleep(300);
    expect(closed).toBe(false);
    gated.gate.open();
    await closing;
    expect(gated.finished).toEqual([task.jobId]);
    expect(app.core.metrics.counter('tasks_completed_total', { task: 'gated', tenant: 'acme' })).toBe(1);
    if (driver.name === 'memory') return; // its queue lived in the closed app
    const again = await tasksApp(driver, {}, app.prefix);
    try {
      expect(await again.tasks.get(task.id, { tenant: 'acme' })).toMatchObject({ state: 'completed', result: 'done' });
      expect(again.worker(GatedWorker).started).toEqual([]);
    } finally {
      await again.close();
    }
  });

  it('stops waiting at shutdown after tasks.shutdownTimeoutMs and aborts the running task\'s signal', async () => {
    const app = await tasksApp(driver, { shutdownTimeoutMs: 200 });
    const gated = app.worker(GatedWorker);
    await app.tasks.enqueue('gated', {}, { tenant: 'acme' });
    await until(() => gated.started.length === 1, { timeoutMs: RUN_MS, message: 'the gated task to start' });
    const [signal] = gated.signals;
    await app.close(); // resolves although the handler never returns
    expect(signal.aborted).toBe(true);
    expect(gated.finished).toEqual([]);
    gated.gate.open();
  });

  it('refuses to boot with two handlers of one task name, naming both', async () => {
    const error = await bootFailure({
      imports: [CoordinationModule.forRoot({ ...driver.options(), prefix: uniquePrefix('tasks') })],
      providers: [EchoWorker, SecondEcho],
    });
    expect(error.message).toContain('EchoWorker.echo');
    expect(error.message).toContain('SecondEcho.again');
    expect(error.message).toContain('"echo"');
  });
}
