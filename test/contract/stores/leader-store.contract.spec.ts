import { ManualClock } from '@nest-coordination/core';
import { MemoryJobTickStore, MemoryLeaderStore } from '../../../libs/coordination/src/leader/memory-leader.store.js';
import { RedisJobTickStore, RedisLeaderStore } from '../../../libs/coordination/src/leader/redis-leader.store.js';
import { JOB_STATE_RETENTION_MS } from '../../../libs/coordination/src/leader/leader.scripts.js';
import { SHARED_TENANT } from '../../../libs/coordination/src/keys/key-builder.js';
import { FENCE_RETENTION_MS } from '../../../libs/coordination/src/locks/memory-lock.store.js';
import { bootModule } from '../../support/boot.js';
import { DRIVERS, REDIS_DRIVERS, uniquePrefix, type DriverCase } from '../../support/drivers.js';
import { KeyBuilder } from '../../support/internals.js';
import { elapseServerTime, serverNow } from '../../support/server-clock.js';
import { describeJobTickStoreContract } from './job-tick-store.contract.js';
import { LONG, describeLeaderStoreContract, uniqueName, type LeaderStoresUnderTest } from './leader-store.contract.js';

/** Keys as the capability builds them: `<prefix>:<tenant>:leader:{<role>}[:fence]`, `<prefix>:_shared:jobs:{<name>}[:fence]`. */
function keysOf(builder: KeyBuilder): Pick<LeaderStoresUnderTest, 'roleKeys' | 'jobKeys'> {
  return {
    roleKeys: (tenant, role) => ({ lease: builder.key(tenant, 'leader', role), fence: builder.key(tenant, 'leader', role, { suffix: 'fence' }) }),
    jobKeys: (name) => ({ state: builder.key(SHARED_TENANT, 'jobs', name), fence: builder.key(SHARED_TENANT, 'jobs', name, { suffix: 'fence' }) }),
  };
}

/** Memory stores on a ManualClock, or Redis stores on the connection of a booted module (its own prefix). */
async function storesFor(driver: DriverCase): Promise<LeaderStoresUnderTest> {
  if (driver.name === 'memory') {
    const clock = new ManualClock(1_700_000_000_000);
    const stores: LeaderStoresUnderTest = {
      leaders: new MemoryLeaderStore(clock),
      jobs: new MemoryJobTickStore(clock),
      ...keysOf(new KeyBuilder(uniquePrefix('leaderstore'))),
      now: async () => clock.now(),
      elapse: async (ms) => clock.advance(ms),
      // A restarted process: new stores (their counters gone) on a clock 1 ms later.
      loseFence: async () => {
        clock.advance(1);
        stores.leaders = new MemoryLeaderStore(clock);
        stores.jobs = new MemoryJobTickStore(clock);
      },
      close: async () => undefined,
    };
    return stores;
  }
  const booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('leaderstore'), health: { pingIntervalMs: 0 } });
  const connection = booted.core.connection!;
  return {
    leaders: new RedisLeaderStore(connection),
    jobs: new RedisJobTickStore(connection),
    ...keysOf(booted.core.keys),
    now: () => serverNow(connection),
    elapse: (ms) => elapseServerTime(connection, ms),
    loseFence: async (fenceKey) => {
      await connection.execute('test.del', (c) => c.del(fenceKey));
    },
    close: () => booted.close(),
  };
}

describe.each(DRIVERS)('LeaderStore contract ($name)', (driver) => {
  describeLeaderStoreContract(() => storesFor(driver));
});

describe.each(DRIVERS)('JobTickStore contract ($name)', (driver) => {
  describeJobTickStoreContract(() => storesFor(driver));
});

// What the contract cannot see: the Redis layout (lease = the hash's PEXPIRE, the job state's retention).
describe.each(REDIS_DRIVERS)('Redis leader and job keys ($name)', (driver) => {
  let booted: Awaited<ReturnType<typeof bootModule>>;
  beforeAll(async () => {
    booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('leaderlayout'), health: { pingIntervalMs: 0 } });
  });
  afterAll(() => booted.close());

  it('a term is a hash { candidate, instance, token, since } living as long as the lease; the counter lives 7 days from its seed, as locks\' do', async () => {
    const { roleKeys } = keysOf(booted.core.keys);
    const keys = roleKeys('acme', uniqueName('role'));
    const reply = await new RedisLeaderStore(booted.core.connection!).campaign(keys, 'node-a:1', 'node-a', LONG);
    if (!reply.elected) throw new Error('not elected');
    const client = booted.core.connection!.client;
    expect(await client.hgetall(keys.lease)).toEqual({ candidate: 'node-a:1', instance: 'node-a', token: String(reply.fencingToken), since: String(reply.electedAt) });
    const pttl = await client.pttl(keys.lease);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(LONG);
    expect(await client.get(keys.fence)).toBe(String(reply.fencingToken));
    // The fencing counter of locks/lua/fence.lua: re-seeded from the server clock once its 7 days ran out.
    const fencePttl = await client.pttl(keys.fence);
    expect(fencePttl).toBeGreaterThan(FENCE_RETENTION_MS - 60_000);
    expect(fencePttl).toBeLessThanOrEqual(FENCE_RETENTION_MS);
  });

  it('issues terms and runs tokens above every earlier one after their counter is brought back older (a promoted replica that missed the latest tokens)', async () => {
    const { roleKeys, jobKeys } = keysOf(booted.core.keys);
    const client = booted.core.connection!.client;
    const leaders = new RedisLeaderStore(booted.core.connection!);
    const jobs = new RedisJobTickStore(booted.core.connection!);
    const role = roleKeys('acme', uniqueName('role'));
    const job = jobKeys(uniqueName('job'));
    const terms: number[] = [];
    const runs: number[] = [];
    const stale: Record<string, string | null> = {};
    for (let i = 0; i < 3; i++) {
      const term = await leaders.campaign(role, `node-${i}:1`, `node-${i}`, LONG);
      const run = await jobs.claimTick(job, 60_000 * (i + 1), `node-${i}:1`, LONG);
      if (!term.elected || !run.claimed) throw new Error('not elected or not claimed');
      terms.push(term.fencingToken);
      runs.push(run.fencingToken);
      expect(await leaders.resign(role, `node-${i}:1`, term.fencingToken)).toBe(true);
      expect(await jobs.finishTick(job, `node-${i}:1`, run.fencingToken)).toBe(true);
      // The replica that will be promoted received the first tokens only.
      if (i === 0) for (const key of [role.fence, job.fence]) stale[key] = await client.get(key);
    }
    for (const key of [role.fence, job.fence]) await client.set(key, stale[key]!, 'KEEPTTL');
    const term = await leaders.campaign(role, 'node-x:1', 'node-x', LONG);
    const run = await jobs.claimTick(job, 60_000 * 10, 'node-x:1', LONG);
    if (!term.elected || !run.claimed) throw new Error('not elected or not claimed');
    expect(term.fencingToken).toBeGreaterThan(Math.max(...terms));
    expect(run.fencingToken).toBeGreaterThan(Math.max(...runs));
    // The counters keep their retention through it.
    for (const key of [role.fence, job.fence]) {
      expect(await client.pttl(key)).toBeGreaterThan(FENCE_RETENTION_MS - 60_000);
      expect(await client.pttl(key)).toBeLessThanOrEqual(FENCE_RETENTION_MS);
    }
  });

  it('a job state lives 7 days after its latest claim (also a refused one that marks a tick taken)', async () => {
    const { jobKeys } = keysOf(booted.core.keys);
    const keys = jobKeys(uniqueName('job'));
    const store = new RedisJobTickStore(booted.core.connection!);
    const client = booted.core.connection!.client;
    const claim = await store.claimTick(keys, 60_000, 'node-a:1', LONG);
    if (!claim.claimed) throw new Error('not claimed');
    expect(await client.hgetall(keys.state)).toEqual({ last: '60000', holder: 'node-a:1', token: String(claim.fencingToken), until: expect.stringMatching(/^\d+$/) });
    await client.pexpire(keys.state, 1_000_000); // shortened, so the next claim visibly refreshes it
    expect(await store.claimTick(keys, 120_000, 'node-b:1', LONG)).toMatchObject({ claimed: false, reason: 'running' });
    const pttl = await client.pttl(keys.state);
    expect(pttl).toBeGreaterThan(JOB_STATE_RETENTION_MS - 60_000);
    expect(pttl).toBeLessThanOrEqual(JOB_STATE_RETENTION_MS);
    expect(await store.finishTick(keys, 'node-a:1', claim.fencingToken)).toBe(true);
    expect(await client.hgetall(keys.state)).toEqual({ last: '120000', token: String(claim.fencingToken) });
  });
});
