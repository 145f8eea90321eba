import { fileURLToPath } from 'node:url';
import { forkWorker, workersOnStandalone } from '../locks/worker-process.js';
import { uniquePrefix } from '../support/drivers.js';

// Children import the built library (libs/coordination/dist): `npm run build:lib` (run by `pretest`) must have run.
const CHILD = fileURLToPath(new URL('./children/cache-stampede.child.mjs', import.meta.url));
const PROCESSES = 4;
const CALLERS = 50;

interface Done {
  values: unknown[];
  stats: { loaderCalls: number; coalesced: number; leaseWaitTimeouts: number; misses: number };
}

describe('getOrSet stampede protection across processes (standalone Redis)', () => {
  const pool = workersOnStandalone();
  const { workers } = pool;

  it(`calls the loader exactly once for ${PROCESSES} processes x ${CALLERS} concurrent callers of a cold key`, async () => {
    const prefix = uniquePrefix('stampede');
    const callsKey = `${prefix}:test:loader-calls`;
    const releaseKey = `${prefix}:test:release`;
    workers.push(...Array.from({ length: PROCESSES }, () => forkWorker(CHILD, { prefix, callsKey, releaseKey, callers: CALLERS })));
    await Promise.all(workers.map((w) => w.next('ready')));

    const done = workers.map((w) => w.next('done'));
    for (const worker of workers) worker.child.send({ type: 'go' });
    const joined = (await Promise.all(workers.map((w) => w.next('joined')))) as unknown as Array<{ role: string }>;
    // Every process has all its callers waiting on its one load; one holds the lease and runs the
    // loader, the others lost the lease and wait for it across the fleet: now let the loader return.
    expect(joined.map((j) => j.role).sort()).toEqual(['holder', 'waiter', 'waiter', 'waiter']);
    expect(Number(await pool.redis.get(callsKey))).toBe(1);
    // One token per caller: a broken implementation's extra loaders return too, and are counted.
    await pool.redis.rpush(releaseKey, ...Array(PROCESSES * CALLERS).fill('go'));
    const reports = (await Promise.all(done)) as unknown as Done[];

    expect(Number(await pool.redis.get(callsKey))).toBe(1);
    const values = reports.flatMap((r) => r.values);
    expect(values).toHaveLength(PROCESSES * CALLERS);
    expect(new Set(values.map((v) => JSON.stringify(v))).size).toBe(1);
    expect(reports.map((r) => r.stats.loaderCalls).sort()).toEqual([0, 0, 0, 1]);
    expect(reports.map((r) => r.stats.leaseWaitTimeouts)).toEqual(Array(PROCESSES).fill(0));
    // 49 callers per process joined its load; the 3 processes without the lease waited for the holder's.
    expect(reports.reduce((sum, r) => sum + r.stats.coalesced, 0)).toBe(PROCESSES * (CALLERS - 1) + PROCESSES - 1);
    await pool.redis.del(callsKey, releaseKey);
  }, 90_000);
});
