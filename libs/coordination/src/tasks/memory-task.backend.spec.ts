import 'reflect-metadata';
import { expectNoTimersLeftBy } from '../../../../test/support/timers.js';
import { until } from '../../../../test/support/wait.js';
import { ManualClock } from '../core/clock.js';
import { MemoryTaskBackend } from './memory-task.backend.js';
import { resolveTaskOptions, type TaskModuleOptions } from './task.options.js';
import type { NewTask, TaskProcessor, TaskWorker } from './task-backend.interface.js';

// What the shared contract (test/contract/stores/task-backend.contract.ts) cannot see from outside
// on both backends: the fairness counters' resets, a worker cut off at close, backoff on the
// clock to the ms, retry and UnrecoverableTaskError details, a throwing onSettled, the backend's close.

const task = (jobId: string, options: Partial<NewTask> = {}): NewTask => ({
  jobId, payload: null, priority: 0, delayMs: 0, attempts: 1, backoff: { type: 'fixed', delayMs: 0 }, ...options,
});

describe('MemoryTaskBackend', () => {
  let backend: MemoryTaskBackend;
  let workers: TaskWorker[];
  let clock: ManualClock;
  const start = (options?: TaskModuleOptions) => (backend = new MemoryTaskBackend((clock = new ManualClock(1_000)), resolveTaskOptions(options)));
  const work = (processor: TaskProcessor, concurrency = 1) => {
    const worker = backend.work('q', { concurrency }, processor);
    workers.push(worker);
    return worker;
  };
  /** Runs every queued task of `q` on one worker; their `<tenant>/<jobId>` in start order. */
  const runAll = async (count: number) => {
    const order: string[] = [];
    const worker = work(async (t) => void order.push(`${t.tenant}/${t.jobId}`));
    await until(() => order.length >= count, { timeoutMs: 5_000, message: `${count} tasks to run` });
    await worker.close(1_000);
    return order;
  };

  beforeEach(() => {
    workers = [];
    start();
  });
  afterEach(async () => {
    await Promise.all(workers.map((w) => w.close(1_000)));
    await backend.close(1_000);
  });

  it("starts a tenant's fairness tags again once it has no task waiting", async () => {
    await backend.add('q', 'a', [task('a1'), task('a2'), task('a3')]);
    await runAll(3);
    await backend.add('q', 'a', [task('a4'), task('a5')]);
    await backend.add('q', 'b', [task('b1'), task('b2')]);
    // Without the reset a4 and a5 would get tags 4 and 5 and wait behind b1 and b2.
    expect(await runAll(4)).toEqual(['a/a4', 'b/b1', 'a/a5', 'b/b2']);
  });

  it('takes cancelled tasks off the waiting count', async () => {
    await backend.add('q', 'a', [task('a1'), task('a2'), task('a3', { delayMs: 5_000 })]);
    for (const jobId of ['a1', 'a2', 'a3']) expect(await backend.cancel('q', 'a', jobId)).toBe('cancelled');
    await backend.add('q', 'a', [task('a4'), task('a5')]);
    await backend.add('q', 'b', [task('b1'), task('b2')]);
    expect(await runAll(4)).toEqual(['a/a4', 'b/b1', 'a/a5', 'b/b2']);
  });

  it('keeps the tag of a task across its attempts', async () => {
    await backend.add('q', 'a', [task('a1', { attempts: 2 })]);
    await backend.add('q', 'b', [task('b1'), task('b2')]);
    const order: string[] = [];
    work(async (t) => {
      order.push(`${t.jobId}#${t.attempt}`);
      if (t.attempt === 1 && t.jobId === 'a1') throw new Error('again');
    });
    await until(() => order.length >= 4, { timeoutMs: 5_000, message: '4 attempts' });
    // a1's retry keeps tag 1: it goes before b2 (tag 2), after b1 (same tag, entered earlier).
    expect(order).toEqual(['a1#1', 'b1#1', 'a1#2', 'b2#1']);
  });

  it('does not run a task cut off by a worker close again while its handler still runs', async () => {
    await backend.add('q', 'a', [task('stuck', { attempts: 1 })]);
    let release!: (value: string) => void;
    const runs: string[] = [];
    const first = work(() => new Promise((resolve) => (runs.push('first'), (release = resolve))));
    await until(() => release, { timeoutMs: 5_000, message: 'the task to start' });
    await first.close(20);
    work(async (t) => {
      if (t.jobId === 'stuck') runs.push('second');
    });
    await backend.add('q', 'a', [task('marker')]);
    await backend.waitFor('q', 'a', 'marker', 5_000);
    expect(await backend.get('q', 'a', 'stuck')).toMatchObject({ state: 'active', attemptsMade: 1 });
    release('late');
    expect(await backend.waitFor('q', 'a', 'stuck', 5_000)).toMatchObject({ state: 'completed', result: 'late', attemptsMade: 1 });
    expect(runs).toEqual(['first']);
  });

  it('makes a retry due exactly when its backoff has passed on the clock', async () => {
    await backend.add('q', 'a', [task('x', { attempts: 2, backoff: { type: 'exponential', delayMs: 300 } })]);
    const order: string[] = [];
    work(async (t) => {
      order.push(`${t.jobId}#${t.attempt}`);
      if (t.jobId === 'x' && t.attempt === 1) throw new Error('first');
    });
    await until(async () => (await backend.get('q', 'a', 'x'))?.state === 'delayed', { timeoutMs: 5_000, message: 'the retry backoff' });
    // A lower-priority marker makes the worker look: a due retry (priority 0) would start first.
    clock.advance(299);
    await backend.add('q', 'a', [task('m1', { priority: -10 })]);
    await backend.waitFor('q', 'a', 'm1', 5_000);
    expect(order).toEqual(['x#1', 'm1#1']);
    clock.advance(1);
    await backend.add('q', 'a', [task('m2', { priority: -10 })]);
    await backend.waitFor('q', 'a', 'm2', 5_000);
    expect(order).toEqual(['x#1', 'm1#1', 'x#2', 'm2#1']);
  });

  it('clears the start time of a retried task', async () => {
    await backend.add('q', 'a', [task('t')]);
    const worker = work(async () => {
      throw new Error('no');
    });
    expect((await backend.waitFor('q', 'a', 't', 5_000))?.startedAtMs).toEqual(expect.any(Number));
    await worker.close(1_000);
    await backend.retry('q', 'a', 't');
    expect((await backend.get('q', 'a', 't'))?.startedAtMs).toBeUndefined();
  });

  it('fails a task at once only on an UnrecoverableTaskError instance, not on an error named so', async () => {
    await backend.add('q', 'a', [task('t', { attempts: 2 })]);
    const attempts: number[] = [];
    work(async (t) => {
      attempts.push(t.attempt);
      throw Object.assign(new Error('look-alike'), { name: 'UnrecoverableTaskError' });
    });
    expect(await backend.waitFor('q', 'a', 't', 5_000)).toMatchObject({ state: 'failed', attemptsMade: 2 });
    expect(attempts).toEqual([1, 2]);
  });

  it('hands waitFor the record of a task that keepCompleted 0 removes at once', async () => {
    start({ keepCompleted: 0 });
    await backend.add('q', 'a', [task('t')]);
    const done = backend.waitFor('q', 'a', 't', 5_000);
    work(async () => 42);
    expect(await done).toMatchObject({ state: 'completed', result: 42 });
    expect(await backend.get('q', 'a', 't')).toBeNull();
  });

  it('resolves waitFor with null for a task cancelled meanwhile', async () => {
    await backend.add('q', 'a', [task('t')]);
    const waiting = backend.waitFor('q', 'a', 't', 5_000);
    await backend.cancel('q', 'a', 't');
    expect(await waiting).toBeNull();
  });

  it('leaves no timer behind when it closes with workers, delayed tasks and waitFor calls pending', async () => {
    await backend.add('q', 'a', [task('later', { delayMs: 60_000 })]);
    work(async () => undefined);
    const waiting = backend.waitFor('q', 'a', 'later', 60_000);
    await expectNoTimersLeftBy(() => backend.close(1_000));
    expect(await waiting).toBeNull();
  });

  it('keeps working when onSettled throws: the outcome is stored, the next task runs', async () => {
    await backend.add('q', 'a', [task('t1'), task('t2')]);
    const outcomes: string[] = [];
    workers.push(backend.work('q', {
      concurrency: 1,
      onSettled: (t, outcome) => {
        outcomes.push(`${t.jobId}:${outcome}`);
        throw new Error('observer broke');
      },
    }, async (t) => t.jobId));
    expect(await backend.waitFor('q', 'a', 't2', 5_000)).toMatchObject({ state: 'completed', result: 't2' });
    expect(await backend.get('q', 'a', 't1')).toMatchObject({ state: 'completed', result: 't1' });
    expect(outcomes).toEqual(['t1:completed', 't2:completed']);
  });

  it('keeps no reference to the objects it was given or returned', async () => {
    const payload = { list: [1] };
    const [added] = await backend.add('q', 'a', [task('t', { payload })]);
    payload.list.push(2);
    (added.payload as { list: number[] }).list.push(3);
    expect((await backend.get('q', 'a', 't'))?.payload).toEqual({ list: [1] });
  });
});
