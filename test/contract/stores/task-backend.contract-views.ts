import { until } from '../../support/wait.js';
import { WAIT_MS, type TaskFixtures } from './task-backend.contract.js';

/**
 * The TaskBackend contract, part 3: the views (`failed`, `list`), the keep limits and the tenant
 * each processor is handed.
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
}
