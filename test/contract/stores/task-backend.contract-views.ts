import { until } from '../../support/wait.js';
import { WAIT_MS, type TaskFixtures } from './task-backend.contract.js';

/** Tasks per `add` call when the contract enqueues many (BullMQ addBulk-sized). */
const BATCH = 1_000;

/**
 * The TaskBackend contract, part 3: the views (`failed`, `list`, `depth`), the keep limits,
 * the tenant each processor is handed, and the fairness scenario of issue 12.
 *
 * @example
 * describeTaskBackendViewsContract(fixtures); // from describeTaskBackendContract
 */
export function describeTaskBackendViewsContract(f: TaskFixtures): void {
  const b = () => f.s().backend;
  const ids = (tasks: ReadonlyArray<{ jobId: string }>) => tasks.map((t) => t.jobId);

  it("lists a tenant's tasks newest first, with paging", async () => {
    const name = f.name();
    // Job ids against their enqueue order: an order by id would not pass.
    for (const jobId of ['c', 'b', 'a']) await b().add(name, 'acme', [f.task(jobId)]);
    await b().add(name, 'globex', [f.task('z')]);
    await b().add(name, 'acme', [f.task('e'), f.task('d')]);
    expect(ids(await b().list(name, 'acme', { offset: 0, limit: 10 }))).toEqual(['d', 'e', 'a', 'b', 'c']);
    expect(ids(await b().list(name, 'acme', { offset: 1, limit: 2 }))).toEqual(['e', 'a']);
    expect(ids(await b().list(name, 'globex', { offset: 0, limit: 10 }))).toEqual(['z']);
    expect(await b().list(f.name(), 'acme', { offset: 0, limit: 10 })).toEqual([]);
  });

  it('lists tasks in every state', async () => {
    const name = f.name();
    await b().add(name, 'acme', [f.task('will-fail'), f.task('will-pass')]);
    f.work(name, async (task) => {
      if (task.jobId === 'will-fail') throw new Error('no');
    });
    await f.finished(name, 'acme', 'will-pass');
    await f.finished(name, 'acme', 'will-fail');
    await b().add(name, 'acme', [f.task('delayed', null, { delayMs: 60_000 })]);
    const listed = await b().list(name, 'acme', { offset: 0, limit: 10 });
    expect(listed.map((t) => [t.jobId, t.state])).toEqual([['delayed', 'delayed'], ['will-pass', 'completed'], ['will-fail', 'failed']]);
  });

  it('counts the waiting and delayed tasks of the tenant as its depth', async () => {
    const name = f.name();
    await b().add(name, 'acme', [f.task('w1'), f.task('w2'), f.task('d1', null, { delayMs: 60_000 })]);
    await b().add(name, 'globex', [f.task('w1')]);
    expect(await b().depth(name, 'acme')).toBe(3);
    expect(await b().depth(name, 'globex')).toBe(1);
    expect(await b().depth(f.name(), 'acme')).toBe(0);
    await b().cancel(name, 'acme', 'w2');
    expect(await b().depth(name, 'acme')).toBe(2);
    f.work(name, async () => 'ran');
    await f.finished(name, 'acme', 'w1');
    await f.finished(name, 'globex', 'w1');
    expect(await b().depth(name, 'acme')).toBe(1);
    expect(await b().depth(name, 'globex')).toBe(0);
  });

  it('shows failed tasks most recently failed first, per tenant', async () => {
    const name = f.name();
    f.work(name, async (task) => {
      throw new Error(`failed ${task.jobId}`);
    });
    for (const [tenant, jobId] of [['acme', 'x'], ['globex', 'y'], ['acme', 'w']] as const) {
      await b().add(name, tenant, [f.task(jobId)]);
      await f.finished(name, tenant, jobId);
    }
    const acme = await b().failed(name, 'acme', { offset: 0, limit: 10 });
    expect(acme.map((t) => [t.jobId, t.failedReason, t.state])).toEqual([['w', 'failed w', 'failed'], ['x', 'failed x', 'failed']]);
    expect(ids(await b().failed(name, 'acme', { offset: 1, limit: 1 }))).toEqual(['x']);
    expect(ids(await b().failed(name, 'globex', { offset: 0, limit: 10 }))).toEqual(['y']);
  });

  it('keeps at most keepCompleted completed and keepFailed failed tasks, dropping the oldest', async () => {
    const under = await f.create({ keepCompleted: 2, keepFailed: 1 });
    try {
      const name = f.name();
      f.work(name, async (task) => {
        if (task.jobId.startsWith('f')) throw new Error('no');
        return task.jobId;
      }, 1, under.backend);
      for (const jobId of ['k1', 'k2', 'k3', 'k4', 'f1', 'f2']) {
        await under.backend.add(name, 'acme', [f.task(jobId)]);
        await f.finished(name, 'acme', jobId, 0, under);
      }
      for (const gone of ['k1', 'k2', 'f1']) expect(await under.backend.get(name, 'acme', gone)).toBeNull();
      expect((await under.backend.get(name, 'acme', 'k3'))?.result).toBe('k3');
      expect(ids(await under.backend.list(name, 'acme', { offset: 0, limit: 10 }))).toEqual(['f2', 'k4', 'k3']);
      expect(ids(await under.backend.failed(name, 'acme', { offset: 0, limit: 10 }))).toEqual(['f2']);
    } finally {
      await under.close();
    }
  });

  it('hands every task to the processor with its own tenant', async () => {
    const name = f.name();
    const tenants = ['acme', 'globex', 'initech'];
    for (const tenant of tenants) {
      await b().add(name, tenant, Array.from({ length: 4 }, (_, i) => f.task(`t${i}`, { owner: tenant }, { priority: i % 2 })));
    }
    const seen: string[] = [];
    f.work(name, async (task) => {
      seen.push(`${task.tenant}/${(task.payload as { owner: string }).owner}/${task.name}`);
      return task.tenant;
    }, 5);
    await until(() => seen.length >= 12, { timeoutMs: WAIT_MS, message: 'the 12 tasks to run' });
    expect(seen.filter((s) => !/^(\w+)\/\1\//.test(s))).toEqual([]);
    expect(new Set(seen.map((s) => s.split('/')[2]))).toEqual(new Set([name]));
    for (const tenant of tenants) expect((await f.finished(name, tenant, 't3')).result).toBe(tenant);
  });

  it("completes all of tenant B's 10 tasks before A's 200th when A enqueued 10 000 first (concurrency 10)", async () => {
    const name = f.name();
    for (let from = 0; from < 10_000; from += BATCH) {
      await b().add(name, 'flood', Array.from({ length: BATCH }, (_, i) => f.task(`a${from + i}`, { i: from + i })));
    }
    await b().add(name, 'quiet', Array.from({ length: 10 }, (_, i) => f.task(`b${i}`, { i })));
    const completed: string[] = [];
    const worker = f.work(name, async (task) => {
      completed.push(task.tenant);
      return null;
    }, 10);
    const quietDone = () => completed.filter((tenant) => tenant === 'quiet').length;
    await until(() => quietDone() === 10, { timeoutMs: 30_000, message: () => `B's 10 tasks to complete (${quietDone()} of 10 after ${completed.length})` });
    await worker.close(5_000);
    const floodBeforeLastQuiet = completed.slice(0, completed.lastIndexOf('quiet')).filter((tenant) => tenant === 'flood').length;
    expect(floodBeforeLastQuiet).toBeLessThanOrEqual(199);
  }, 60_000);
}
