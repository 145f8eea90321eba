import type { INestApplication } from '@nestjs/common';
import { EventBus, LockService, type CoordinationEvent, type HeldLockInfo } from '@nest-coordination/core';
import request from 'supertest';
import type { CrewEventPayload, CrewRun } from '../../apps/demo/src/crews/crew.model.js';
import { CoordinationCore } from '../support/internals.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { DEMO_BACKENDS, as, bootDemo, historyCaughtUp, runHistory } from './demo-test-app.js';

const ADA = as('u-ada', 'acme');
const BOB = as('u-bob', 'acme');

/** Collects acme's `crew.run.*` events seen through `app`'s EventBus until stopped. */
async function watchRuns(app: INestApplication): Promise<{ events: CoordinationEvent<CrewEventPayload>[]; stop(): void }> {
  const stream = app.get(EventBus).on<CrewEventPayload>('crew.run.*', { tenant: 'acme' });
  const events: CoordinationEvent<CrewEventPayload>[] = [];
  const subscription = stream.subscribe((event) => events.push(event));
  await stream.ready();
  return { events, stop: () => subscription.unsubscribe() };
}

/** The crew's history once it has caught up with every run event so far (it is written from the stream). */
const runsOf = async (app: INestApplication, crewId: string): Promise<CrewRun[]> => {
  await historyCaughtUp(app, 'acme');
  return runHistory(app, ADA, crewId, '?limit=100');
};

const heldLock = async (app: INestApplication, key: string): Promise<HeldLockInfo | undefined> => {
  const res = await request(app.getHttpServer()).get('/locks').set(ADA).expect(200);
  return (res.body as HeldLockInfo[]).find((lock) => lock.key === key);
};

/**
 * Two demo instances sharing one Redis prefix. The first does not renew its locks, so a lock
 * taken from under it is surely not noticed as lost before its run ends. Agent steps still running
 * at shutdown (those of a run it aborted) are cut off after 1 s, not the default 10 s.
 */
async function bootTwoInstances(driver: (typeof REDIS_DRIVERS)[number]): Promise<{ first: INestApplication; second: INestApplication }> {
  const prefix = uniquePrefix('demo');
  const tasks = { shutdownTimeoutMs: 1_000 };
  const first = (await bootDemo(driver, {
    prefix,
    configure: (config) => ({ ...config, coordination: { ...config.coordination, locks: { autoRenew: false }, tasks } }),
  })).app;
  const second = (await bootDemo(driver, { prefix, configure: (config) => ({ ...config, coordination: { ...config.coordination, tasks } }) })).app;
  return { first, second };
}

describe.each(DEMO_BACKENDS)('demo app: a crew run that loses its lock ($name)', (driver) => {
  let app: INestApplication;

  beforeAll(async () => {
    // A lock that is not renewed expires mid-run, as when its holder stalls past the TTL. The aborted
    // run's agent steps run on: shutdown cuts them off after 1 s (not the default 10 s).
    ({ app } = await bootDemo(driver, {
      configure: (config) => ({ ...config, coordination: { ...config.coordination, locks: { defaultTtlMs: 300, autoRenew: false }, tasks: { shutdownTimeoutMs: 1_000 } } }),
    }));
  });

  afterAll(async () => {
    await app?.close();
  });

  it('stops when lock.signal aborts: recorded as aborted, crew.run.failed published, never succeeded', async () => {
    const watch = await watchRuns(app);
    try {
      const res = await request(app.getHttpServer()).post('/crews/market-research/runs?durationMs=20000').set(ADA);
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ code: 'E_LOCK_LOST', key: 'crew-run:market-research', tenant: 'acme' });

      const failed = await until(() => watch.events.find((e) => e.channel === 'crew.run.failed'), { timeoutMs: 5_000, message: 'crew.run.failed' });
      const started = watch.events.find((e) => e.channel === 'crew.run.started');
      expect(started).toBeDefined();
      const { runId, fencingToken } = started!.payload.data as { runId: string; fencingToken: number };
      expect(failed.payload).toMatchObject({ crewId: 'market-research', type: 'run.failed', data: { runId, fencingToken, status: 'aborted' } });
      expect(watch.events.map((e) => e.channel)).not.toContain('crew.run.completed');

      const run = (await runsOf(app, 'market-research')).find((r) => r.id === runId);
      expect(run).toMatchObject({ status: 'aborted', fencingToken, triggeredBy: 'u-ada' });
      expect(run?.finishedAt).toEqual(expect.any(String));
    } finally {
      watch.stop();
    }
  });

  it('refuses a run at its start when a newer token already fenced the crew: it never starts', async () => {
    // A newer holder elsewhere has raised the crew's fence (tokens never reach this high).
    expect(await app.get(LockService).checkFence('crew-runs:support-triage', Number.MAX_SAFE_INTEGER, { tenant: 'acme' })).toBe(true);
    const watch = await watchRuns(app);
    try {
      const res = await request(app.getHttpServer()).post('/crews/support-triage/runs?durationMs=0').set(ADA);
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ outcome: 'refused', crewId: 'support-triage' });
      const failed = await until(() => watch.events.find((e) => e.channel === 'crew.run.failed'), { timeoutMs: 5_000, message: 'crew.run.failed' });
      expect(failed.payload).toMatchObject({ crewId: 'support-triage', data: { fencingToken: res.body.fencingToken, status: 'refused', recorded: false } });
      // One publisher, one subscription: a run.started published before run.failed would have arrived first.
      expect(watch.events.map((e) => e.channel)).toEqual(['crew.run.failed']);
      expect((await runsOf(app, 'support-triage')).filter((r) => r.fencingToken === res.body.fencingToken)).toEqual([]);
    } finally {
      watch.stop();
    }
  });
});

describe.each(REDIS_DRIVERS.filter((d) => d.name === 'standalone'))('demo app: two instances, one crew ($name)', (driver) => {
  let first: INestApplication;
  let second: INestApplication;

  beforeAll(async () => {
    ({ first, second } = await bootTwoInstances(driver));
  });

  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  it("refuses a stale holder's run record: the newer token wrote first, the older one is answered as refused", async () => {
    const watch = await watchRuns(second);
    try {
      // 3 s of work: ample for the steps below, which take milliseconds, to happen while it runs.
      const stale = request(first.getHttpServer()).post('/crews/market-research/runs?durationMs=3000').set(ADA).then((r) => r);
      const held = await until(() => heldLock(first, 'crew-run:market-research'), { timeoutMs: 5_000, message: 'the first run to hold its lock' });

      // The lock vanishes from Redis (a failover that lost the write): the first instance does not know yet.
      const core = first.get(CoordinationCore);
      expect(await core.connection!.client.del(core.keys.key('acme', 'lock', 'crew-run:market-research'))).toBe(1);

      const fresh = await request(second.getHttpServer()).post('/crews/market-research/runs?durationMs=0').set(BOB).expect(201);
      expect(fresh.body).toMatchObject({ status: 'succeeded', triggeredBy: 'u-bob' });
      expect(fresh.body.fencingToken).toBeGreaterThan(held.fencingToken);

      const refused = await stale;
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ statusCode: 409, outcome: 'refused', crewId: 'market-research', fencingToken: held.fencingToken });

      const failed = await until(() => watch.events.find((e) => e.channel === 'crew.run.failed'), { timeoutMs: 5_000, message: 'crew.run.failed' });
      expect(failed.payload.data).toMatchObject({ fencingToken: held.fencingToken, status: 'refused' });
      expect(watch.events.filter((e) => e.channel === 'crew.run.completed').map((e) => (e.payload.data as { fencingToken: number }).fencingToken))
        .toEqual([fresh.body.fencingToken]);
      // The stale run left no record: only the fresh one is in the history, which both instances show.
      const history = await runsOf(first, 'market-research');
      expect(history.filter((r) => r.fencingToken === held.fencingToken)).toEqual([]);
      expect(history).toEqual(expect.arrayContaining([
        expect.objectContaining({ id: fresh.body.id, status: 'succeeded', fencingToken: fresh.body.fencingToken }),
      ]));
      expect(await runsOf(second, 'market-research')).toEqual(history);
    } finally {
      watch.stop();
    }
  });
});

describe.each(REDIS_DRIVERS.filter((d) => d.name === 'standalone'))('demo app: a stale run ending while the newer one still runs ($name)', (driver) => {
  let first: INestApplication;
  let second: INestApplication | undefined;

  beforeAll(async () => {
    ({ first, second } = await bootTwoInstances(driver));
  });

  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  it('refuses the stale run: the newer run raised the fence when it started, not when it finishes', async () => {
    const stale = request(first.getHttpServer()).post('/crews/market-research/runs?durationMs=1500').set(ADA).then((r) => r);
    const held = await until(() => heldLock(first, 'crew-run:market-research'), { timeoutMs: 5_000, message: 'the first run to hold its lock' });

    // The first holder's lock vanishes (it stalled past its TTL): the second instance takes the crew for a long run.
    const core = first.get(CoordinationCore);
    expect(await core.connection!.client.del(core.keys.key('acme', 'lock', 'crew-run:market-research'))).toBe(1);
    const fresh = request(second!.getHttpServer()).post('/crews/market-research/runs?durationMs=30000').set(BOB).then((r) => r);
    const newer = await until(() => heldLock(second!, 'crew-run:market-research'), { timeoutMs: 5_000, message: 'the fresh run to hold its lock' });
    expect(newer.fencingToken).toBeGreaterThan(held.fencingToken);

    // The stale run finishes first, while the fresh one has not written anything yet.
    const refused = await stale;
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ statusCode: 409, outcome: 'refused', crewId: 'market-research', fencingToken: held.fencingToken });
    expect((await runsOf(first, 'market-research')).filter((r) => r.fencingToken === held.fencingToken)).toEqual([]);

    // Ends the fresh run (shutdown aborts its signal); it is still the newest, so it records itself as aborted.
    const closing = second!.close();
    second = undefined;
    await closing;
    const ended = await fresh;
    expect(ended.status).toBe(503);
    expect(ended.body).toMatchObject({ code: 'E_LOCK_SHUTDOWN' });
  });
});
