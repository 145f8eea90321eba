import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { testClusterNodes, testRedisUrl } from '../harness/env.js';
import { forkWorker, killWorker, type WorkerProcess } from '../locks/worker-process.js';
import { REDIS_DRIVERS, uniquePrefix, type DriverCase } from '../support/drivers.js';
import { assertFreshBuild } from '../support/stale-build.js';
import { sleep, until } from '../support/wait.js';

// Children import @nest-coordination/core from libs/coordination/dist (`npm run build:lib`).
const CHILD = fileURLToPath(new URL('./children/singleton-job-child.mjs', import.meta.url));

interface Run {
  scheduledAt: number;
  fencingToken: number;
  pid: number;
}

/** Processes of one fleet on `driver`, and the test's own client reading what their handlers recorded. */
class JobFleet {
  readonly workers: WorkerProcess[] = [];
  readonly prefix = uniquePrefix('jobfleet');
  readonly redis: Redis | Cluster;

  constructor(private readonly driver: DriverCase) {
    this.redis = driver.name === 'cluster' ? new Cluster(testClusterNodes()) : new Redis(testRedisUrl());
  }

  get keys(): string {
    return `${this.prefix}:{test}`;
  }

  fork(options: { job: string; leaseMs?: number; hold?: boolean }): WorkerProcess {
    const cluster = this.driver.name === 'cluster' ? { cluster: testClusterNodes() } : {};
    const worker = forkWorker(CHILD, { ...cluster, ...options, prefix: this.prefix, keys: this.keys });
    this.workers.push(worker);
    return worker;
  }

  async runs(): Promise<Run[]> {
    return (await this.redis.lrange(`${this.keys}:runs`, 0, -1)).map((line) => JSON.parse(line) as Run);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map(killWorker));
    this.redis.disconnect();
  }
}

/** The longest run of consecutive seconds among `ticks` (sorted, distinct). */
function longestStreak(ticks: number[]): number[] {
  let best: number[] = [];
  let current: number[] = [];
  for (const tick of ticks) {
    current = current.length > 0 && tick === current[current.length - 1] + 1_000 ? [...current, tick] : [tick];
    if (current.length > best.length) best = current;
  }
  return best;
}

describe.each(REDIS_DRIVERS)('@SingletonJob across processes ($name)', (driver) => {
  let fleet: JobFleet;
  beforeAll(() => assertFreshBuild('leader', 'the job processes'));
  beforeEach(() => {
    fleet = new JobFleet(driver);
  });
  afterEach(() => fleet.close());

  it('runs a @Cron every-second tick exactly once over 20 ticks across 4 processes, fencing tokens increasing with the ticks', async () => {
    const workers = Array.from({ length: 4 }, () => fleet.fork({ job: 'every-second' }));
    await Promise.all(workers.map((w) => w.next('ready')));
    const bootedAt = Date.now();
    // 20 consecutive ticks run after every process was up (a tick may be missed when every timer fired late).
    const streak = await until(
      async () => {
        const ticks = [...new Set((await fleet.runs()).map((r) => r.scheduledAt))].filter((t) => t > bootedAt).sort((a, b) => a - b);
        const longest = longestStreak(ticks);
        return longest.length >= 20 ? longest.slice(0, 20) : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: '20 consecutive ticks to run' },
    );
    const runs = await fleet.runs();
    const perTick = new Map<number, Run[]>();
    for (const run of runs) perTick.set(run.scheduledAt, [...(perTick.get(run.scheduledAt) ?? []), run]);
    // Exactly one run for each of the 20 ticks, and for every other tick seen.
    expect(streak.map((tick) => perTick.get(tick)?.length ?? 0)).toEqual(Array(20).fill(1));
    for (const [tick, list] of perTick) expect({ tick, runs: list.length }).toEqual({ tick, runs: 1 });
    const byTick = [...runs].sort((a, b) => a.scheduledAt - b.scheduledAt);
    for (let i = 1; i < byTick.length; i++) expect(byTick[i].fencingToken).toBeGreaterThan(byTick[i - 1].fencingToken);
    // Runs are spread over the fleet, not one process's (a sanity check of the set-up: every process claims).
    expect(new Set(runs.map((r) => r.pid)).size).toBeGreaterThan(1);
  }, 120_000);

  it('keeps the job on a live holder past 3 leases (renewed), and resumes the ticks elsewhere once a killed holder’s lease ran out, with a higher fencing token', async () => {
    const leaseMs = 2_000;
    const workers = Array.from({ length: 3 }, () => fleet.fork({ job: 'held', leaseMs, hold: true }));
    await Promise.all(workers.map((w) => w.next('ready')));
    const holding = await Promise.race(workers.map((w) => w.next('holding').then((m) => ({ worker: w, message: m }))));
    const held = holding.message as unknown as Run;
    // The holder runs for more than 3 leases: its lease must be renewed (from its own process) for the
    // others' every-second timers to keep finding the job running. Time has to pass here: nothing to await.
    await sleep(3 * leaseMs + 500);
    expect((await fleet.runs()).filter((r) => r.scheduledAt > held.scheduledAt)).toEqual([]);
    const killedAt = Date.now(); // before the kill: the holder died after this, its lease was renewed at most leaseMs/3 before
    await killWorker(holding.worker);
    const next = await until(
      async () => (await fleet.runs()).find((r) => r.pid !== held.pid && r.scheduledAt > held.scheduledAt),
      { timeoutMs: 20_000, message: 'a later tick to run on another process after the lease expired' },
    );
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    const runs = await fleet.runs();
    // No run for a tick up to a second after the kill: the lease outlived the holder by at least
    // leaseMs − leaseMs/3 (1.33 s), so every instance found the job still running then.
    expect(runs.filter((r) => r.scheduledAt > held.scheduledAt && r.scheduledAt <= killedAt + 1_000)).toEqual([]);
    // The holder ran one tick only, and after the lease one run per tick again.
    expect(runs.filter((r) => r.pid === held.pid)).toHaveLength(1);
    const counts = new Map<number, number>();
    for (const run of runs) counts.set(run.scheduledAt, (counts.get(run.scheduledAt) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  }, 60_000);
});
