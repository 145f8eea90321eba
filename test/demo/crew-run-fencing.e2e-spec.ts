import type { INestApplication } from '@nestjs/common';
import { EventBus, type CoordinationEvent, type HeldLockInfo } from '@nest-coordination/core';
import request from 'supertest';
import type { CrewEventPayload, CrewRun } from '../../apps/demo/src/crews/crew.model.js';
import { CoordinationCore } from '../support/internals.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { DEMO_BACKENDS, as, bootDemo } from './demo-test-app.js';

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

const runsOf = async (app: INestApplication, crewId: string): Promise<CrewRun[]> => {
  const res = await request(app.getHttpServer()).get('/crews').set(ADA).expect(200);
  return res.body.find((crew: { id: string }) => crew.id === crewId).runs;
};

const heldLock = async (app: INestApplication, key: string): Promise<HeldLockInfo | undefined> => {
  const res = await request(app.getHttpServer()).get('/locks').set(ADA).expect(200);
  return (res.body as HeldLockInfo[]).find((lock) => lock.key === key);
};

describe.each(DEMO_BACKENDS)('demo app: a crew run that loses its lock ($name)', (driver) => {
  let app: INestApplication;

  beforeAll(async () => {
    // A lock that is not renewed expires mid-run, as when its holder stalls past the TTL.
    ({ app } = await bootDemo(driver, {
      configure: (config) => ({ ...config, coordination: { ...config.coordination, locks: { defaultTtlMs: 300, autoRenew: false } } }),
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
});

describe.each(REDIS_DRIVERS.filter((d) => d.name === 'standalone'))('demo app: two instances, one crew ($name)', (driver) => {
  let first: INestApplication;
  let second: INestApplication;

  beforeAll(async () => {
    const prefix = uniquePrefix('demo');
    // No renewal on the first instance: its lock is surely not noticed as lost before its run ends.
    first = (await bootDemo(driver, {
      prefix,
      configure: (config) => ({ ...config, coordination: { ...config.coordination, locks: { autoRenew: false } } }),
    })).app;
    second = (await bootDemo(driver, { prefix })).app;
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
      // The stale run left no record on its instance: only the fresh one recorded a result.
      expect((await runsOf(first, 'market-research')).filter((r) => r.fencingToken === held.fencingToken)).toEqual([]);
      expect(await runsOf(second, 'market-research')).toEqual(expect.arrayContaining([
        expect.objectContaining({ id: fresh.body.id, status: 'succeeded', fencingToken: fresh.body.fencingToken }),
      ]));
    } finally {
      watch.stop();
    }
  });
});
