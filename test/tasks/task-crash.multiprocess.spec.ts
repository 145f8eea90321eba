import type { TaskInfo } from '@nest-coordination/core';
import { REDIS_DRIVERS } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { TASK, TaskFleet } from './task-fleet.js';

// Children import the built library (libs/coordination/dist): `npm run build:lib` (run by `pretest`) must have run;
// TaskFleet.start fails naming the stale files otherwise.
/** A dead worker's task is put back once its lock expired and a stalled check ran: 1-2 s here (30 s by default). */
const TIMING = { lockDurationMs: 1_000, stalledIntervalMs: 1_000 };
const OTHERS = 20;

describe.each(REDIS_DRIVERS)('task workers in separate processes, one SIGKILLed mid-task ($name)', (driver) => {
  let fleet: TaskFleet;

  beforeEach(async () => {
    fleet = await TaskFleet.start(driver, TIMING);
  });

  afterEach(async () => {
    await fleet?.close();
  });

  it('runs the dead worker\'s task again on a surviving process, which completes it exactly once', async () => {
    // Three processes, each taking one task at a time; whichever starts `blocked` first holds it forever.
    const workers = ['w-1', 'w-2', 'w-3'].map((worker) => fleet.fork({ worker, blockJob: 'blocked' }));
    await Promise.all(workers.map((w) => w.next('ready')));
    const blocked = await fleet.tasks.enqueue(TASK, { tenant: 'acme', n: -1 }, { tenant: 'acme', jobId: 'blocked' });
    const started = await Promise.race(workers.map((w) => w.next('started')));
    expect(started.key).toBe('acme/blocked');
    expect(await fleet.tasks.get(blocked.id, { tenant: 'acme' })).toMatchObject({ state: 'active' });
    const victim = workers[['w-1', 'w-2', 'w-3'].indexOf(started.worker as string)];
    const survivors = workers.filter((w) => w !== victim);

    // More work meanwhile, then the holder dies mid-task.
    const others = Array.from({ length: OTHERS }, (_, n) => ({ payload: { tenant: 'acme', n }, jobId: `other-${n}` }));
    await fleet.tasks.enqueueMany(TASK, others, { tenant: 'acme' });
    victim.child.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');

    const done = await fleet.tasks.waitFor(blocked.id, { tenant: 'acme', timeoutMs: 20_000 });
    expect(done.state).toBe('completed');
    expect((done.result as { worker: string }).worker).not.toBe(started.worker);

    let listed: TaskInfo[] = [];
    await until(async () => (listed = await fleet.tasks.list(TASK, { tenant: 'acme', limit: 100 })).every((t) => t.state === 'completed'), {
      timeoutMs: 20_000, message: () => `every task completed (${listed.filter((t) => t.state === 'completed').length} of ${listed.length} so far)`,
    });
    expect(listed).toHaveLength(OTHERS + 1);
    // Started twice (the victim, then a survivor), completed once; every other task started and completed once.
    const [starts, runs] = [await fleet.counts('starts'), await fleet.counts('runs')];
    const once = others.map(({ jobId }) => [`acme/${jobId}`, 1] as const);
    expect(starts).toEqual(new Map([['acme/blocked', 2], ...once]));
    expect(runs).toEqual(new Map([['acme/blocked', 1], ...once]));
    // Completed is final: nothing waits or runs that could run it a third time. The waiting set's removals are
    // fire-and-forget from the workers (on a cluster, on another node than BullMQ's keys): it reaches 0.
    await until(async () => (await fleet.tasks.depth(TASK, { tenant: 'acme' })) === 0, { timeoutMs: 5_000, message: 'depth 0' });
    expect(await fleet.wrongTenants()).toEqual([]);
    for (const survivor of survivors) expect(survivor.child.exitCode).toBeNull();
  }, 30_000);
});
