import { TaskTimeoutError, UnrecoverableTaskError } from '../../../libs/coordination/src/tasks/task.errors.js';
import { rejectionOf, sleep, until } from '../../support/wait.js';
import { WAIT_MS, type TaskFixtures } from './task-backend.contract.js';

/**
 * The TaskBackend contract, part 2: attempts (retries with backoff, UnrecoverableTaskError,
 * `retry`), `cancel` in each state, progress and results, `waitFor`, and closing a worker.
 *
 * @example
 * describeTaskBackendLifecycleContract(fixtures); // from describeTaskBackendContract
 */
export function describeTaskBackendLifecycleContract(f: TaskFixtures): void {
  const b = () => f.s().backend;

  it('retries a failing task with backoff, then shows it in the failed view', async () => {
    const name = f.name();
    const starts: Array<{ attempt: number; at: number }> = [];
    await b().add(name, 'acme', [f.task('flaky', { n: 1 }, { attempts: 3, backoff: { type: 'exponential', delayMs: 100 } })]);
    f.work(name, async (task) => {
      starts.push({ attempt: task.attempt, at: task.startedAtMs });
      throw new Error(`boom ${task.attempt}`);
    });
    const failed = await f.finished(name, 'acme', 'flaky', 100);
    expect(failed).toMatchObject({ state: 'failed', failedReason: 'boom 3', attemptsMade: 3, attempts: 3, payload: { n: 1 } });
    expect(failed.finishedAtMs).toEqual(expect.any(Number));
    expect(starts.map((s) => s.attempt)).toEqual([1, 2, 3]);
    expect(starts[1].at - starts[0].at).toBeGreaterThanOrEqual(100);
    expect(starts[2].at - starts[1].at).toBeGreaterThanOrEqual(200);
    const view = await b().failed(name, 'acme', { offset: 0, limit: 10 });
    expect(view.map((t) => [t.jobId, t.failedReason, t.attemptsMade])).toEqual([['flaky', 'boom 3', 3]]);
    expect(await b().failed(name, 'globex', { offset: 0, limit: 10 })).toEqual([]);
  });

  it('fails a task at once on UnrecoverableTaskError', async () => {
    const name = f.name();
    let calls = 0;
    await b().add(name, 'acme', [f.task('bad', null, { attempts: 5 })]);
    f.work(name, async () => {
      calls += 1;
      throw new UnrecoverableTaskError('bad input');
    });
    const failed = await f.finished(name, 'acme', 'bad');
    expect(failed).toMatchObject({ state: 'failed', failedReason: 'bad input', attemptsMade: 1, attempts: 5 });
    expect(calls).toBe(1);
    expect((await b().failed(name, 'acme', { offset: 0, limit: 10 })).map((t) => t.jobId)).toEqual(['bad']);
  });

  it('retry moves a failed task back with fresh attempts, and it runs', async () => {
    const name = f.name();
    let failing = true;
    const attempts: number[] = [];
    await b().add(name, 'acme', [f.task('again', null, { attempts: 2 }), f.task('fine')]);
    f.work(name, async (task) => {
      if (task.jobId === 'again') attempts.push(task.attempt);
      if (task.jobId === 'again' && failing) throw new Error('not yet');
      return 'ok';
    });
    expect((await f.finished(name, 'acme', 'again')).state).toBe('failed');
    await f.finished(name, 'acme', 'fine');
    expect(await b().retry(name, 'acme', 'fine')).toEqual({ state: 'completed' });
    expect(await b().retry(name, 'acme', 'unknown')).toBe('not-found');
    failing = false;
    expect(await b().retry(name, 'acme', 'again')).toBe('retried');
    const done = await f.finished(name, 'acme', 'again');
    expect(done).toMatchObject({ state: 'completed', result: 'ok' });
    expect(done.failedReason).toBeUndefined();
    expect(attempts).toEqual([1, 2, 1]);
    expect(await b().failed(name, 'acme', { offset: 0, limit: 10 })).toEqual([]);
  });

  it('cancels waiting and delayed tasks: gone, and never run', async () => {
    const name = f.name();
    await b().add(name, 'acme', [f.task('w1'), f.task('d1', null, { delayMs: 60_000 }), f.task('w2')]);
    expect(await b().cancel(name, 'acme', 'w1')).toBe('cancelled');
    expect(await b().cancel(name, 'acme', 'd1')).toBe('cancelled');
    expect(await b().cancel(name, 'acme', 'w1')).toBe('not-found');
    expect(await b().get(name, 'acme', 'w1')).toBeNull();
    expect(await b().get(name, 'acme', 'd1')).toBeNull();
    expect(await b().depth(name, 'acme')).toBe(1);
    const ran: string[] = [];
    f.work(name, async (task) => void ran.push(task.jobId));
    await f.finished(name, 'acme', 'w2');
    await f.s().elapse(60_000);
    await b().add(name, 'acme', [f.task('w3')]);
    await f.finished(name, 'acme', 'w3');
    expect(ran).toEqual(['w2', 'w3']);
  });

  it('does not cancel an active, completed or failed task: it answers with its state', async () => {
    const name = f.name();
    const gate = f.gate();
    const started: string[] = [];
    await b().add(name, 'acme', [f.task('act'), f.task('broken')]);
    f.work(name, async (task) => {
      started.push(task.jobId);
      if (task.jobId === 'broken') throw new Error('broken');
      await gate.opened;
      return 1;
    }, 2);
    await until(() => started.includes('act'), { timeoutMs: WAIT_MS, message: 'the task to start' });
    expect(await b().cancel(name, 'acme', 'act')).toEqual({ state: 'active' });
    gate.open();
    await f.finished(name, 'acme', 'act');
    await f.finished(name, 'acme', 'broken');
    expect(await b().cancel(name, 'acme', 'act')).toEqual({ state: 'completed' });
    expect(await b().cancel(name, 'acme', 'broken')).toEqual({ state: 'failed' });
  });

  it('shows progress through get while the task runs, and stores its result', async () => {
    const name = f.name();
    const [first, second] = [f.gate(), f.gate()];
    await b().add(name, 'acme', [f.task('prog')]);
    f.work(name, async (task) => {
      await task.progress(40);
      await first.opened;
      await task.progress({ stage: 'upload', pct: 80 });
      await second.opened;
      return { url: 'https://example.test/r', size: 3 };
    });
    const get = () => b().get(name, 'acme', 'prog');
    await until(async () => (await get())?.progress === 40, { timeoutMs: WAIT_MS, message: 'progress 40' });
    expect((await get())?.state).toBe('active');
    first.open();
    await until(async () => JSON.stringify((await get())?.progress) === '{"stage":"upload","pct":80}', { timeoutMs: WAIT_MS, message: 'object progress' });
    second.open();
    const done = await f.finished(name, 'acme', 'prog');
    expect(done).toMatchObject({ state: 'completed', result: { url: 'https://example.test/r', size: 3 }, progress: { stage: 'upload', pct: 80 }, attemptsMade: 1 });
    expect(done.finishedAtMs).toBeGreaterThanOrEqual(done.startedAtMs!);
  });

  it('waitFor resolves on completion and on final failure, and rejects with TaskTimeoutError', async () => {
    const name = f.name();
    await b().add(name, 'acme', [f.task('ok', { a: 1, b: 2 }), f.task('ko')]);
    const ok = b().waitFor(name, 'acme', 'ok', WAIT_MS);
    const ko = b().waitFor(name, 'acme', 'ko', WAIT_MS);
    f.work(name, async (task) => {
      if (task.jobId === 'ko') throw new Error('ko failed');
      const { a, b: two } = task.payload as { a: number; b: number };
      return { sum: a + two };
    });
    expect(await ok).toMatchObject({ jobId: 'ok', state: 'completed', result: { sum: 3 } });
    expect(await ko).toMatchObject({ jobId: 'ko', state: 'failed', failedReason: 'ko failed' });
    expect(await b().waitFor(name, 'acme', 'ok', 1_000)).toMatchObject({ state: 'completed' });
    const idle = f.name();
    await b().add(idle, 'acme', [f.task('never')]);
    const error = await rejectionOf(b().waitFor(idle, 'acme', 'never', 300));
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect(error).toMatchObject({ taskId: `${idle}:never`, timeoutMs: 300 });
  });

  it('closing a worker waits for its running task', async () => {
    const name = f.name();
    const gate = f.gate();
    const events: string[] = [];
    await b().add(name, 'acme', [f.task('slow')]);
    const worker = f.work(name, async () => {
      events.push('started');
      await gate.opened;
      events.push('finished');
      return 'done';
    });
    await until(() => events.includes('started'), { timeoutMs: WAIT_MS, message: 'the task to start' });
    const closing = worker.close(WAIT_MS).then(() => events.push('closed'));
    await sleep(300); // time for a close that does not wait to return
    expect(events).toEqual(['started']);
    gate.open();
    await closing;
    expect(events).toEqual(['started', 'finished', 'closed']);
    expect((await b().get(name, 'acme', 'slow'))?.state).toBe('completed');
  });

  it('closing a worker aborts the signal after its timeout; a handler that then returns completes its task', async () => {
    const name = f.name();
    let signal: AbortSignal | undefined;
    await b().add(name, 'acme', [f.task('stuck')]);
    const worker = f.work(name, (task) => {
      signal = task.signal;
      return new Promise((resolve) => task.signal.addEventListener('abort', () => resolve('aborted')));
    });
    await until(() => signal, { timeoutMs: WAIT_MS, message: 'the task to start' });
    expect(signal!.aborted).toBe(false);
    await worker.close(200);
    expect(signal!.aborted).toBe(true);
    expect(await b().get(name, 'acme', 'stuck')).toMatchObject({ state: 'completed', result: 'aborted', attemptsMade: 1 });
  });

  it('closing a worker past its timeout hands back to waiting a task whose handler then throws, its attempt not spent', async () => {
    const name = f.name();
    let signal: AbortSignal | undefined;
    await b().add(name, 'acme', [f.task('stuck', null, { attempts: 1 })]);
    const worker = f.work(name, (task) => {
      signal = task.signal;
      return new Promise((_, reject) => task.signal.addEventListener('abort', () => reject(new Error('gave up'))));
    });
    await until(() => signal, { timeoutMs: WAIT_MS, message: 'the task to start' });
    await worker.close(200);
    expect(signal!.aborted).toBe(true);
    const handedBack = await b().get(name, 'acme', 'stuck');
    expect(handedBack).toMatchObject({ state: 'waiting', attemptsMade: 0 });
    expect(handedBack?.failedReason).toBeUndefined();
    expect(await b().failed(name, 'acme', { offset: 0, limit: 10 })).toEqual([]);
    const attempts: number[] = [];
    f.work(name, async (task) => void attempts.push(task.attempt));
    expect(await f.finished(name, 'acme', 'stuck')).toMatchObject({ state: 'completed', attemptsMade: 1 });
    expect(attempts).toEqual([1]);
  });

  it('stores null as the result of a handler that returns nothing', async () => {
    const name = f.name();
    await b().add(name, 'acme', [f.task('void')]);
    const done = b().waitFor(name, 'acme', 'void', WAIT_MS);
    f.work(name, async () => undefined);
    expect((await done)?.result).toBeNull();
    expect((await b().get(name, 'acme', 'void'))?.result).toBeNull();
  });
}
