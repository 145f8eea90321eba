import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import {
  CacheService, LockService, RateLimitService, SessionService, StreamService, TaskService, type CoordinationModuleOptions,
} from '@nest-coordination/core';
import { startSentinelGroup, type SentinelGroupHandle } from '../harness/redis-sentinel.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { FleetLoad, GROUP, LOCK, LedgerWorker, POLICY, STREAM, TASK, TENANT, type Acknowledged, type Grant } from './sentinel-load.js';

/**
 * The documented bound (README "Reliability", Failover) from the fault to every capability of
 * every instance working again, with Sentinel's down-after-milliseconds at 1 000 ms and the
 * reconnect options below: detection, election and promotion take a few seconds, then each
 * connection finds the new master within its reconnect backoff. A bound, not a speed assertion.
 */
const RECOVERY_MS = 20_000;

/** A fleet instance through the sentinels, with quick reconnects and a breaker that probes again soon. */
function options(group: SentinelGroupHandle, prefix: string): CoordinationModuleOptions {
  return {
    prefix,
    instanceId: `sentinel-${randomBytes(3).toString('hex')}`,
    connection: { sentinels: [...group.sentinels], sentinelName: group.name, commandTimeoutMs: 1_000, connectTimeoutMs: 2_000 },
    reconnect: { baseDelayMs: 50, maxDelayMs: 500 },
    breaker: { failureThreshold: 5, openMs: 500 },
    health: { pingIntervalMs: 200 },
    // No L1: a read after the failover must come from the new master, not from process memory.
    cache: { l1: { enabled: false } },
    tasks: { keepCompleted: 100_000, lockDurationMs: 5_000, stalledIntervalMs: 5_000 },
  };
}

/** One round of every capability on `app`; resolves true when each answered as a healthy instance does. */
async function worksFully(app: BootedModule, label: string): Promise<boolean> {
  try {
    const lock = await app.get(LockService).acquire(`${LOCK}-probe`, { ttlMs: 5_000, waitMs: 2_000, ...TENANT });
    await lock.release();
    if ((await app.get(RateLimitService).consume(`${label}-probe`, POLICY)).source !== 'redis') return false;
    const cache = app.get(CacheService);
    await cache.set(`${label}-probe`, label, TENANT);
    if ((await cache.get(`${label}-probe`, TENANT)) !== label) return false;
    const session = await app.get(SessionService).create(`${label}-probe`, { label }, TENANT);
    if (!(await app.get(SessionService).get(session.id))) return false;
    await app.get(StreamService).append(`${STREAM}-probe`, { label }, TENANT);
    await app.get(TaskService).enqueue(`${TASK}-probe`, { label }, TENANT);
    return true;
  } catch {
    return false;
  }
}

/**
 * Grants that break fencing in real time: a grant asked for after another was granted must carry
 * a larger token, whichever master issued either (tokens follow the server clock, lua/fence.lua).
 */
function fencingViolations(grants: readonly Grant[]): string[] {
  const byGranted = [...grants].sort((x, y) => x.grantedAt - y.grantedAt);
  const maxUpTo: number[] = [];
  for (const [i, g] of byGranted.entries()) maxUpTo.push(Math.max(g.token, maxUpTo[i - 1] ?? 0));
  const violations: string[] = [];
  for (const g of grants) {
    // The grants granted strictly before g was asked for: byGranted[0 .. k-1].
    let [lo, hi] = [0, byGranted.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (byGranted[mid].grantedAt < g.requestedAt) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && g.token <= maxUpTo[lo - 1]) violations.push(`token ${g.token} asked for at ${g.requestedAt} <= ${maxUpTo[lo - 1]} granted before`);
  }
  return violations;
}

/** What was acknowledged before the replicated point and is gone after the failover (README: none may be). */
async function lostAfterFailover(app: BootedModule, before: Acknowledged): Promise<Record<string, string[]>> {
  const streams = app.get(StreamService);
  const stored = new Map<string, number>();
  for (let after: string | undefined; ;) {
    const page = await streams.read<{ n: number }>(STREAM, { ...TENANT, count: 1_000, after });
    for (const entry of page) stored.set(entry.id, entry.payload.n);
    if (page.length < 1_000) break;
    after = page.at(-1)!.id;
  }
  const lost: Record<string, string[]> = { entries: [], tasks: [], sessions: [], cache: [] };
  for (const [id, n] of before.entries) if (stored.get(id) !== n) lost.entries.push(id);
  const tasks = app.get(TaskService);
  for (const [id, n] of before.tasks) {
    const task = await tasks.get(id, TENANT);
    if ((task?.payload as { n?: number } | undefined)?.n !== n) lost.tasks.push(id);
  }
  const sessions = app.get(SessionService);
  for (const [id, n] of before.sessions) if ((await sessions.get<{ n: number }>(id))?.data.n !== n) lost.sessions.push(id);
  const cache = app.get(CacheService);
  for (const [key, n] of before.cache) if ((await cache.get<number>(key, TENANT)) !== n) lost.cache.push(key);
  return lost;
}

describe('Sentinel failover under load (a master, a replica, three sentinels)', () => {
  let group: SentinelGroupHandle | undefined;
  let load: FleetLoad | undefined;
  const apps: BootedModule[] = [];

  afterEach(async () => {
    await load?.stop();
    load = undefined;
    for (const app of apps.splice(0)) await app.close();
    await group?.stop();
    group = undefined;
  });

  const faults: Array<[string, (g: SentinelGroupHandle, load: FleetLoad) => Promise<unknown>]> = [
    ['SENTINEL FAILOVER (the old master alive, then demoted)', (g) => g.failover()],
    ['a SIGKILLed master whose replica had fallen behind', async (g, load) => {
      // The replica misses the last grants (and the fence counters they wrote): a promoted
      // replica whose counters are older than tokens already issued.
      const master = await g.master();
      const stall = await g.stallReplication();
      const stalled = load.snapshot();
      try {
        await until(() => load.acked.grants.length >= stalled.grants.length + 3, { timeoutMs: 5_000, message: () => `grants the replica misses (${load.counts()})` });
        await master.kill();
      } finally {
        stall.resume();
      }
      return g.awaitPromotion(master);
    }],
  ];

  it.each(faults)('%s: every capability works again within the bound, fencing tokens stay monotonic, nothing replicated is lost', async (_label, fault) => {
    group = await startSentinelGroup();
    const prefix = uniquePrefix('sentinel');
    // A fleet of two: `b` also runs the tasks and consumes the stream.
    apps.push(await bootModule(options(group, prefix)));
    apps.push(await bootModule(options(group, prefix), { providers: [LedgerWorker] }));
    const [a, b] = apps;
    const worker = b.get(LedgerWorker);
    const consumed = new Set<number>();
    await b.get(StreamService).consume<{ n: number }>(STREAM, GROUP, (entry) => void consumed.add(entry.payload.n), {
      ...TENANT, blockMs: 200, claimIdleMs: 2_000, consumer: 'b',
    });

    load = new FleetLoad(apps);
    const start = load.snapshot();
    await until(() => load!.grew(start, 20), { timeoutMs: RECOVERY_MS, message: () => `the load to flow (${load!.counts()})` });
    // The replicated point: everything acknowledged so far is on the replica too.
    const replicated = load.snapshot();
    await group.replicated();
    // A few writes more, acknowledged by the master alone (they may be lost: README).
    await until(() => load!.grew(replicated, 3), { timeoutMs: RECOVERY_MS, message: () => `more load (${load!.counts()})` });

    const faultAt = Date.now();
    const beforeFault = load.snapshot();
    await fault(group, load);
    for (const [i, app] of apps.entries()) {
      await until(() => worksFully(app, `app${i}`), {
        timeoutMs: Math.max(1, faultAt + RECOVERY_MS - Date.now()), intervalMs: 100,
        message: () => `instance ${i} to work fully again (${load!.counts()}; health ${JSON.stringify(app.core.connection!.health())})`,
      });
    }
    const recoveredAt = Date.now();
    // The load goes on through the new master; the stream consumer and the task worker too.
    const recovered = load.snapshot();
    await until(() => load!.grew(recovered, 10), { timeoutMs: RECOVERY_MS, message: () => `the load to flow again (${load!.counts()})` });
    const nextEntry = [...load.acked.entries.values()].at(-1)!;
    const nextTask = [...load.acked.tasks.values()].at(-1)!;
    await until(() => consumed.has(nextEntry) && worker.done.has(nextTask), {
      timeoutMs: RECOVERY_MS, message: () => `entry ${nextEntry} consumed (${consumed.has(nextEntry)}) and task ${nextTask} run (${worker.done.has(nextTask)})`,
    });
    await load.stop();

    expect(load.untyped).toEqual([]); // every failure during the failover was a CoordinationError
    // Fencing: tokens follow the server clock, so no master, old or new, issued one below an earlier grant.
    expect(fencingViolations(load.acked.grants)).toEqual([]);
    const after = load.acked.grants.filter((g) => g.requestedAt >= recoveredAt);
    expect(after.length).toBeGreaterThan(0);
    expect(Math.min(...after.map((g) => g.token))).toBeGreaterThan(Math.max(...beforeFault.grants.map((g) => g.token)));
    // Leader terms: a term begun after the recovery has a token above every term before the fault.
    const termsBefore = beforeFault.terms.map((t) => t.token);
    for (const term of load.acked.terms.filter((t) => t.at >= recoveredAt)) expect(term.token).toBeGreaterThan(Math.max(0, ...termsBefore));
    // Nothing acknowledged and replicated before the fault is lost.
    expect(await lostAfterFailover(a, replicated)).toEqual({ entries: [], tasks: [], sessions: [], cache: [] });
  }, 60_000);
});
