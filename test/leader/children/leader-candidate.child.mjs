// A candidate of the leader fail-over test (test/leader/leader-failover.multiprocess.spec.ts): its
// own CoordinationModule on the shared Redis (standalone, or the cluster when `cluster` lists its
// nodes) campaigns for `role` with `leaseMs`, and reports each leadership change (with its time) to the parent.
// Plain ESM importing the built library (libs/coordination/dist).
import { LeaderService } from '@nest-coordination/core';
import { bootChildApp, childOptions } from '../../support/child-app.mjs';

const options = childOptions();
const connection = options.cluster ? { cluster: options.cluster } : { url: options.redisUrl };
const app = await bootChildApp(options, { connection, instanceId: options.instanceId });
const campaign = app.get(LeaderService).campaign(options.role, { leaseMs: options.leaseMs });
campaign.leadership$.subscribe(({ leader, fencingToken, reason }) => {
  // `at`: this process's wall clock when it learned the change (the parent compares it with Redis server time: same host).
  process.send({ type: 'leadership', instanceId: options.instanceId, leader, fencingToken, reason, at: Date.now() });
});
process.send({ type: 'ready', instanceId: options.instanceId });
// Campaigns until the parent kills it.
await new Promise(() => undefined);
