import { fileURLToPath } from 'node:url';
import { LeaderService, type LeaderInfo } from '@nest-coordination/core';
import { SHARED_TENANT } from '../../libs/coordination/src/keys/key-builder.js';
import { LeaderKeys } from '../../libs/coordination/src/leader/leader-keys.js';
import { LEADER_STORE, type LeaderStore } from '../../libs/coordination/src/leader/leader-store.interface.js';
import { testClusterNodes } from '../harness/env.js';
import { forkWorker, killWorker, type WorkerProcess } from '../locks/worker-process.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { serverNow } from '../support/server-clock.js';
import { assertFreshBuild } from '../support/stale-build.js';
import { until } from '../support/wait.js';

// Children import @nest-coordination/core from libs/coordination/dist (`npm run build:lib`).
const CHILD = fileURLToPath(new URL('./children/leader-candidate.child.mjs', import.meta.url));
const LEASE_MS = 6_000;
const PROCESSES = 4;
/**
 * How long after the old lease's end a waiting candidate may take the role: it sleeps until the
 * holder's lease ends (+5 ms), then one round trip; generous for a loaded 2-core machine, yet well
 * under the third of the lease (2 s) a candidate would wait if it merely polled at that period.
 */
const TAKEOVER_SLACK_MS = 1_000;

/** A leadership change a candidate process reported, with its wall-clock time (same host as Redis). */
interface Report { instanceId: string; leader: boolean; fencingToken?: number; at: number }

describe.each(REDIS_DRIVERS)('leader fail-over across processes ($name)', (driver) => {
  let parent: BootedModule;
  let workers: WorkerProcess[];

  beforeAll(() => assertFreshBuild('leader', 'the candidate processes'));
  afterEach(async () => {
    await Promise.all(workers.map(killWorker));
    await parent?.close();
  });

  it('a SIGKILLed leader is replaced within one lease, by a term with a higher fencing token that began after the old lease ended', async () => {
    const prefix = uniquePrefix('leaderfail');
    const role = 'fleet-singleton';
    parent = await bootModule({ ...driver.options(), prefix, health: { pingIntervalMs: 0 } });
    const leaders = parent.get(LeaderService);
    const connection = parent.core.connection!;
    const store = parent.get<LeaderStore>(LEADER_STORE);
    const keys = parent.get(LeaderKeys);
    const cluster = driver.name === 'cluster' ? { cluster: testClusterNodes() } : {};
    workers = Array.from({ length: PROCESSES }, (_, i) =>
      forkWorker(CHILD, { ...cluster, prefix, role, leaseMs: LEASE_MS, instanceId: `candidate-${i}` }),
    );
    // Every candidate's own beliefs, as they report them (besides what the store says).
    const reports: Report[] = [];
    for (const w of workers) {
      w.child.on('message', (m: { type: string } & Report) => {
        if (m.type === 'leadership') reports.push(m);
      });
    }
    await Promise.all(workers.map((w) => w.next('ready')));

    const leaderOf = (label: string, differentFrom?: LeaderInfo) =>
      until(async () => {
        const info = await leaders.leader(role);
        return info && info.instanceId !== differentFrom?.instanceId ? info : null;
      }, { timeoutMs: 2 * LEASE_MS + 10_000, message: label });
    const old = await leaderOf('a first leader among the candidates');
    expect(old.self).toBe(false);
    const victim = workers[Number(old.instanceId.split('-')[1])];
    // The leader's own process says so, with the store's token.
    expect(await victim.next('leadership')).toMatchObject({ leader: false });
    expect(await victim.next('leadership')).toMatchObject({ leader: true, fencingToken: old.fencingToken });

    await killWorker(victim); // SIGKILL: no resignation, the lease must run out
    // Dead now, it renews no more: the old term ends when the lease the store holds does. The
    // store's remaining lease, read between two server-time readings, bounds that end (server time).
    const killedAt = await serverNow(connection);
    const record = await store.read(keys.leader(SHARED_TENANT, role));
    const readAt = await serverNow(connection);
    expect(record).toMatchObject({ instanceId: old.instanceId, fencingToken: old.fencingToken });
    expect(record!.ttlMs).toBeLessThanOrEqual(LEASE_MS);
    const [earliestEnd, latestEnd] = [killedAt + record!.ttlMs, readAt + record!.ttlMs];

    const next = await leaderOf('another candidate to lead', old);
    expect(next.fencingToken).toBeGreaterThan(old.fencingToken);
    // Server times: the new term began after the old lease ended (never two leaders in the
    // store), and soon after it (the candidates wake when the holder's lease ends, they do not
    // merely poll): within one lease of the kill, plus that slack.
    const elected = next.electedAt.getTime();
    expect(elected).toBeGreaterThanOrEqual(earliestEnd);
    expect(elected - latestEnd).toBeLessThanOrEqual(TAKEOVER_SLACK_MS);
    expect(elected - killedAt).toBeLessThanOrEqual(LEASE_MS + TAKEOVER_SLACK_MS + (readAt - killedAt));
    // The new leader's process knows it, with the same token.
    const winner = workers[Number(next.instanceId.split('-')[1])];
    await until(async () => {
      const change = await winner.next('leadership');
      return change.leader === true && change.fencingToken === next.fencingToken;
    }, { timeoutMs: 10_000, message: 'the new leader process to report its term' });
    // By the candidates' own beliefs too: none led with a later term before the old lease could have ended.
    const later = reports.filter((r) => r.leader && r.fencingToken! > old.fencingToken);
    expect(later.length).toBeGreaterThan(0);
    for (const report of later) expect(report.at).toBeGreaterThanOrEqual(earliestEnd);
  }, 60_000);
});
