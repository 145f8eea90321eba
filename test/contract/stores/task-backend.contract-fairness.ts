import { sleep, until } from '../../support/wait.js';
import { runAll, WAIT_MS, type TaskFixtures } from './task-backend.contract.js';

/** Tasks per `add` call when the contract enqueues many (BullMQ addBulk-sized). */
const BATCH = 1_000;
/** A delay or backoff that never passes during a case, on either backend. */
const HOUR_MS = 3_600_000;

/**
 * The TaskBackend contract, part 4: `depth` (the tenant's waiting count `n`), the fairness tags
 * (a delayed task does not count as waiting, a retried one does again), the fairness scenario of
 * issue 12 (each task run once), and the worker's concurrency bound.
 *
 * @example
 * describeTaskBackendFairnessContract(fixtures); // from describeTaskBackendContract
 */
export function describeTaskBackendFairnessContract(f: TaskFixtures): void {
  const b = () => f.s().backend;

  it('counts as depth the tasks waiting to start: not delayed ones nor ones in retry backoff; a retried one until it starts', async () => {
    const name = f.name();
    await b().add(name, 'acme', [f.task('backoff', null, { attempts: 2, backoff: { type: 'fixed', delayMs: HOUR_MS } }), f.task('dead')]);
    const failing = f.work(name, async (task) => {
      throw new Error(`boom ${task.jobId} ${task.attempt}`);
    });
    await f.finished(name, 'acme', 'dead');
    await failing.close(WAIT_MS);
    // In retry backoff: delayed, its first attempt spent, the reason of that attempt.
    expect(await b().get(name, 'acme', 'backoff')).toMatchObject({ state: 'delayed', attemptsMade: 1, failedReason: 'boom backoff 1' });
    expect(await b().depth(name, 'acme')).toBe(0);
    await b().add(name, 'acme', [f.task('later', null, { delayMs: HOUR_MS }), f.task('w1'), f.task('w2')]);
    await b().add(name, 'globex', [f.task('w1')]);
    expect(await b().depth(name, 'acme')).toBe(2);
    expect(await b().depth(name, 'globex')).toBe(1);
    expect(await b().depth(f.name(), 'acme')).toBe(0);
    expect(await b().retry(name, 'acme', 'dead')).toBe('retried');
    expect(await b().depth(name, 'acme')).toBe(3);
    expect(await b().cancel(name, 'acme', 'w2')).toBe('cancelled');
    expect(await b().cancel(name, 'acme', 'later')).toBe('cancelled');
    expect(await b().depth(name, 'acme')).toBe(2);
    f.work(name, async () => 'ran');
    for (const jobId of ['w1', 'dead']) expect((await f.finished(name, 'acme', jobId)).state).toBe('completed');
    await f.finished(name, 'globex', 'w1');
    expect(await b().depth(name, 'acme')).toBe(0);
    expect(await b().depth(name, 'globex')).toBe(0);
  });

  it('counts a retried task as waiting until it starts, also one first enqueued with a delay', async () => {
    const name = f.name();
    await b().add(name, 'acme', [f.task('d', null, { delayMs: 1_000 })]);
    const failing = f.work(name, async () => {
      throw new Error('no');
    });
    expect((await f.finished(name, 'acme', 'd', 1_000)).state).toBe('failed');
    await failing.close(WAIT_MS);
    expect(await b().depth(name, 'acme')).toBe(0);
    expect(await b().retry(name, 'acme', 'd')).toBe('retried');
    expect(await b().depth(name, 'acme')).toBe(1);
    const gate = f.gate();
    let entered = false;
    f.work(name, () => {
      entered = true;
      return gate.opened;
    });
    // Its handler, not only BullMQ's state: a job is active in Redis before the worker's hooks ran.
    await until(() => entered, { timeoutMs: WAIT_MS, message: 'the retried task to start' });
    // Its start takes it off the count, though it was enqueued with a delay.
    expect(await b().depth(name, 'acme')).toBe(0);
    gate.open();
    expect((await f.finished(name, 'acme', 'd')).state).toBe('completed');
  });

  it("starts a tenant's tags again at 1 when only delayed tasks of it are left: they do not count as waiting", async () => {
    const name = f.name();
    await b().add(name, 'slow', [f.task('parked', null, { delayMs: HOUR_MS })]);
    const oneByOne = f.work(name, async () => null);
    for (let i = 1; i <= 4; i += 1) {
      await b().add(name, 'slow', [f.task(`s${i}`)]);
      await f.finished(name, 'slow', `s${i}`);
    }
    await oneByOne.close(WAIT_MS);
    await b().add(name, 'fast', Array.from({ length: 200 }, (_, i) => f.task(`f${i}`)));
    await b().add(name, 'slow', [f.task('late')]);
    // `late` has tag 1 (after f0, entered earlier); had `parked` kept the count up, it would have tag 6.
    // Before F's 3rd task: among the first three to start (runAll may return before f2 started).
    const order = await runAll(f, name, 3);
    expect(order.slice(0, 3)).toContain('late');
  });

  it('counts a retried task as waiting again: the next task of its tenant runs after it', async () => {
    const name = f.name();
    await b().add(name, 'acme', Array.from({ length: 5 }, (_, i) => f.task(`x${i + 1}`)));
    const first = f.work(name, async (task) => {
      if (task.jobId === 'x5') throw new Error('x5 failed');
    });
    expect((await f.finished(name, 'acme', 'x5')).state).toBe('failed');
    await first.close(WAIT_MS);
    expect(await b().retry(name, 'acme', 'x5')).toBe('retried');
    // x5 keeps tag 5 and counts as waiting, so x6 gets tag 6 (tag 1, without the count: before x5).
    await b().add(name, 'acme', [f.task('x6')]);
    expect(await runAll(f, name, 2)).toEqual(['x5', 'x6']);
  });

  it('never runs more than `concurrency` tasks at once', async () => {
    const name = f.name();
    const gate = f.gate();
    let running = 0;
    let most = 0;
    let started = 0;
    const done = new Set<string>();
    for (const tenant of ['acme', 'globex']) await b().add(name, tenant, Array.from({ length: 8 }, (_, i) => f.task(`c${i}`)));
    f.work(name, async (task) => {
      started += 1;
      most = Math.max(most, (running += 1));
      await gate.opened;
      await sleep(2); // overlap with the next tasks, if the worker starts too many
      running -= 1;
      done.add(`${task.tenant}/${task.jobId}`);
    }, 3);
    await until(() => started >= 3, { timeoutMs: WAIT_MS, message: '3 tasks to start' });
    await sleep(300); // time for a worker that ignores its concurrency to start a 4th
    expect(started).toBe(3);
    gate.open();
    await until(() => done.size === 16, { timeoutMs: WAIT_MS, message: () => `the 16 tasks to complete (${done.size})` });
    expect(most).toBe(3);
    expect(started).toBe(16);
  });

  it("completes all of tenant B's 10 tasks before A's 200th when A enqueued 10 000 first (concurrency 10), each once", async () => {
    const name = f.name();
    for (let from = 0; from < 10_000; from += BATCH) {
      await b().add(name, 'flood', Array.from({ length: BATCH }, (_, i) => f.task(`a${from + i}`, { i: from + i })));
    }
    await b().add(name, 'quiet', Array.from({ length: 10 }, (_, i) => f.task(`b${i}`, { i })));
    const completed: string[] = [];
    const worker = f.work(name, async (task) => {
      await Promise.resolve();
      completed.push(`${task.tenant}/${task.jobId}`); // as the handler returns: completion order
      return null;
    }, 10);
    const quietDone = () => completed.filter((id) => id.startsWith('quiet/')).length;
    await until(() => quietDone() === 10, { timeoutMs: 30_000, message: () => `B's 10 tasks to complete (${quietDone()} of 10 after ${completed.length})` });
    await worker.close(5_000);
    expect(new Set(completed).size).toBe(completed.length);
    const lastQuiet = completed.findLastIndex((id) => id.startsWith('quiet/'));
    expect(completed.slice(0, lastQuiet).filter((id) => id.startsWith('flood/')).length).toBeLessThanOrEqual(199);
  }, 60_000);
}
