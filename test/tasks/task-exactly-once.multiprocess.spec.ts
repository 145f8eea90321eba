import type { TaskInfo } from '@nest-coordination/core';
import { REDIS_DRIVERS } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { TASK, TaskFleet } from './task-fleet.js';

// Children import the built library (libs/coordination/dist): `npm run build:lib` (run by `pretest`) must have run;
// TaskFleet.start fails naming the stale files otherwise.
const TENANTS = ['acme', 'globex'];
const PER_TENANT = 200;
const WORKERS = 4;
const BATCH = 50;

describe.each(REDIS_DRIVERS)('task workers in separate processes sharing one queue ($name)', (driver) => {
  let fleet: TaskFleet;

  beforeEach(async () => {
    fleet = await TaskFleet.start(driver);
  });

  afterEach(async () => {
    await fleet?.close();
  });

  it(`runs each of ${PER_TENANT * TENANTS.length} tasks of ${TENANTS.length} tenants exactly once across ${WORKERS} processes`, async () => {
    const workers = Array.from({ length: WORKERS }, (_, i) => fleet.fork({ worker: `w-${i + 1}`, concurrency: 4, holdMs: 2 }));
    await Promise.all(workers.map((w) => w.next('ready')));

    // The tenants' batches interleaved, as two companies enqueue at once.
    const expected = new Map<string, number>();
    for (let from = 0; from < PER_TENANT; from += BATCH) {
      await Promise.all(TENANTS.map((tenant) => {
        const items = Array.from({ length: BATCH }, (_, i) => ({ payload: { tenant, n: from + i }, jobId: `job-${from + i}` }));
        for (const { jobId } of items) expected.set(`${tenant}/${jobId}`, 1);
        return fleet.tasks.enqueueMany(TASK, items, { tenant });
      }));
    }

    const completed = new Map<string, TaskInfo[]>();
    await until(async () => {
      for (const tenant of TENANTS) completed.set(tenant, (await fleet.tasks.list(TASK, { tenant, limit: 1_000 })).filter((t) => t.state === 'completed'));
      return TENANTS.every((tenant) => completed.get(tenant)!.length === PER_TENANT);
    }, { timeoutMs: 25_000, message: () => `every task completed (${TENANTS.map((t) => `${t}: ${completed.get(t)?.length ?? 0}`).join(', ')} of ${PER_TENANT} each)` });

    // None run twice, none lost: one start and one completion per task, and nothing else.
    expect(await fleet.counts('runs')).toEqual(expected);
    expect(await fleet.counts('starts')).toEqual(expected);
    for (const tenant of TENANTS) {
      expect(completed.get(tenant)!.every((t) => t.tenant === tenant && t.attemptsMade === 1)).toBe(true);
      expect(await fleet.tasks.depth(TASK, { tenant })).toBe(0);
    }
    expect(await fleet.wrongTenants()).toEqual([]);
    // The queue is shared: the work spread over the processes.
    const perWorker = await fleet.counts('workers');
    expect([...perWorker.values()].reduce((a, b) => a + b, 0)).toBe(PER_TENANT * TENANTS.length);
    expect(perWorker.size).toBeGreaterThanOrEqual(2);
  }, 30_000);
});
