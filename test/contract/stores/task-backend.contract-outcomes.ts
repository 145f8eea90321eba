import type { AttemptOutcome, WorkOptions } from '../../../libs/coordination/src/tasks/task-backend.interface.js';
import { UnrecoverableTaskError } from '../../../libs/coordination/src/tasks/task.errors.js';
import type { TaskState } from '../../../libs/coordination/src/tasks/task.types.js';
import { until } from '../../support/wait.js';
import { WAIT_MS, type TaskFixtures } from './task-backend.contract.js';

/** One `onSettled` call: the attempt, its outcome, and the task's state read right after the call. */
interface Settlement {
  readonly jobId: string;
  readonly attempt: number;
  readonly outcome: AttemptOutcome;
  readonly runMs: number;
  readonly state: Promise<TaskState | undefined>;
}

/**
 * The TaskBackend contract, part 4: what the backend reports of each outcome. `add` marks the
 * records of deduplicated jobIds `existed` (and only those); a worker's `onSettled` is called once
 * per attempt, in order, after the attempt's outcome is stored: `retrying`, `completed`, `failed`
 * (attempts exhausted, UnrecoverableTaskError, a result that cannot be stored) or `handed-back`
 * (cut off by a close).
 *
 * @example
 * describeTaskBackendOutcomesContract(fixtures); // from describeTaskBackendContract
 */
export function describeTaskBackendOutcomesContract(f: TaskFixtures): void {
  const b = () => f.s().backend;
  /** Backoff of the retry cases: long enough that a task is still delayed when its state is read back. */
  const backoff = { type: 'fixed', delayMs: 1_000 } as const;

  /** WorkOptions whose onSettled records every call; `settled(count)` awaits `count` calls and reads their states. */
  const recordSettled = () => {
    const calls: Settlement[] = [];
    const options: WorkOptions = {
      concurrency: 1,
      onSettled: (task, outcome, runMs) => {
        const state = b().get(task.name, task.tenant, task.jobId).then((stored) => stored?.state);
        calls.push({ jobId: task.jobId, attempt: task.attempt, outcome, runMs, state });
      },
    };
    const settled = async (count: number) => {
      await until(() => calls.length >= count, {
        timeoutMs: WAIT_MS, message: () => `${count} onSettled calls (got ${calls.map((c) => c.outcome).join(', ') || 'none'})`,
      });
      for (const call of calls) expect(Number.isFinite(call.runMs) && call.runMs >= 0).toBe(true);
      return Promise.all(calls.map(async (c) => [c.jobId, c.attempt, c.outcome, await c.state]));
    };
    return { options, settled };
  };

  it('marks existed only the records add returns for deduplicated jobIds, in any state', async () => {
    const name = f.name();
    const [fresh] = await b().add(name, 'acme', [f.task('a', { v: 1 })]);
    expect(fresh.existed).toBeUndefined();
    const [again, other] = await b().add(name, 'acme', [f.task('a', { v: 2 }), f.task('b')]);
    expect(again).toMatchObject({ jobId: 'a', state: 'waiting', payload: { v: 1 }, existed: true });
    expect(other).toMatchObject({ jobId: 'b', state: 'waiting' });
    expect(other.existed).toBeUndefined();
    const [foreign] = await b().add(name, 'globex', [f.task('a')]);
    expect(foreign.existed).toBeUndefined();
    expect((await b().get(name, 'acme', 'a'))?.existed).toBeUndefined();
    expect((await b().list(name, 'acme', { offset: 0, limit: 10 })).map((t) => t.existed)).toEqual([undefined, undefined]);
    f.work(name, async () => 'done');
    await f.finished(name, 'acme', 'a');
    const [finished] = await b().add(name, 'acme', [f.task('a')]);
    expect(finished).toMatchObject({ jobId: 'a', state: 'completed', result: 'done', existed: true });
  });

  it('reports each attempt once, in order, after storing it: retrying twice, then completed', async () => {
    const name = f.name();
    const { options, settled } = recordSettled();
    await b().add(name, 'acme', [f.task('flaky', null, { attempts: 3, backoff })]);
    f.work(name, async (task) => {
      if (task.attempt < 3) throw new Error(`boom ${task.attempt}`);
      return 'ok';
    }, options);
    expect((await f.finished(name, 'acme', 'flaky', backoff.delayMs)).state).toBe('completed');
    expect(await settled(3)).toEqual([
      ['flaky', 1, 'retrying', 'delayed'], ['flaky', 2, 'retrying', 'delayed'], ['flaky', 3, 'completed', 'completed'],
    ]);
  });

  it('reports the last attempt of a task that exhausts its attempts as failed', async () => {
    const name = f.name();
    const { options, settled } = recordSettled();
    await b().add(name, 'acme', [f.task('doomed', null, { attempts: 2, backoff })]);
    f.work(name, async () => {
      throw new Error('always');
    }, options);
    expect((await f.finished(name, 'acme', 'doomed', backoff.delayMs)).state).toBe('failed');
    expect(await settled(2)).toEqual([['doomed', 1, 'retrying', 'delayed'], ['doomed', 2, 'failed', 'failed']]);
  });

  it('reports an UnrecoverableTaskError as failed, attempts left or not', async () => {
    const name = f.name();
    const { options, settled } = recordSettled();
    await b().add(name, 'acme', [f.task('bad', null, { attempts: 5, backoff })]);
    f.work(name, async () => {
      throw new UnrecoverableTaskError('bad input');
    }, options);
    expect((await f.finished(name, 'acme', 'bad')).state).toBe('failed');
    expect(await settled(1)).toEqual([['bad', 1, 'failed', 'failed']]);
  });

  it('fails a task for good when its result cannot be stored as JSON, attempts left or not', async () => {
    const name = f.name();
    const { options, settled } = recordSettled();
    let calls = 0;
    await b().add(name, 'acme', [f.task('big', null, { attempts: 3 })]);
    f.work(name, async () => {
      calls += 1;
      return { total: 10n };
    }, options);
    const failed = await f.finished(name, 'acme', 'big');
    expect(failed).toMatchObject({ state: 'failed', attemptsMade: 1, failedReason: expect.any(String) });
    expect(failed.result).toBeUndefined();
    expect(await settled(1)).toEqual([['big', 1, 'failed', 'failed']]);
    expect(calls).toBe(1);
    expect((await b().failed(name, 'acme', { offset: 0, limit: 10 })).map((t) => t.jobId)).toEqual(['big']);
  });

  it('reports a task cut off by a close, whose handler then throws, as handed-back', async () => {
    const name = f.name();
    const { options, settled } = recordSettled();
    let started = false;
    await b().add(name, 'acme', [f.task('stuck', null, { attempts: 1 })]);
    const worker = f.work(name, (task) => {
      started = true;
      return new Promise((_, reject) => task.signal.addEventListener('abort', () => reject(new Error('gave up'))));
    }, options);
    await until(() => started, { timeoutMs: WAIT_MS, message: 'the task to start' });
    await worker.close(200);
    expect(await settled(1)).toEqual([['stuck', 1, 'handed-back', 'waiting']]);
  });
}
