import type { INestApplication } from '@nestjs/common';
import { EventBus, LockService, type CoordinationEvent, type HeldLockInfo } from '@nest-coordination/core';
import request from 'supertest';
import type { CrewEventPayload } from '../../apps/demo/src/crews/crew.model.js';
import type { DemoConfig } from '../../apps/demo/src/demo.config.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { as, bootDemo, runHistory } from './demo-test-app.js';

const ADA = as('u-ada', 'acme');
const BOB = as('u-bob', 'acme');

describe.each(REDIS_DRIVERS.filter((d) => d.name === 'standalone'))('demo app: an instance shutting down mid-run ($name)', (driver) => {
  let leaving: INestApplication | undefined;
  let staying: INestApplication;

  beforeAll(async () => {
    const prefix = uniquePrefix('demo');
    // An event the leaving instance's consumer had read but not started stays pending until another claims it after claimIdleMs.
    // The agent steps of the aborted 20 s run are cut off 1 s into shutdown (not the default 10 s).
    const configure = (config: DemoConfig): DemoConfig => ({
      ...config, coordination: { ...config.coordination, streams: { consumerDefaults: { claimIdleMs: 2_000 } }, tasks: { shutdownTimeoutMs: 1_000 } },
    });
    leaving = (await bootDemo(driver, { prefix, configure })).app;
    staying = (await bootDemo(driver, { prefix, configure })).app;
  });

  afterAll(async () => {
    await leaving?.close();
    await staying?.close();
  });

  it('aborts its run and releases the lock only once the run has stopped: two runs of a crew never overlap', async () => {
    const stream = staying.get(EventBus).on<CrewEventPayload>('crew.run.*', { tenant: 'acme' });
    const events: CoordinationEvent<CrewEventPayload>[] = [];
    const subscription = stream.subscribe((event) => events.push(event));
    try {
      await stream.ready();
      const app = leaving!;
      const long = request(app.getHttpServer()).post('/crews/market-research/runs?durationMs=20000').set(ADA).then((r) => r);
      const held = await until(async () => {
        const res = await request(app.getHttpServer()).get('/locks').set(ADA).expect(200);
        return (res.body as HeldLockInfo[]).find((lock) => lock.key === 'crew-run:market-research');
      }, { timeoutMs: 5_000, message: 'the run to hold its lock' });

      // SIGTERM: enableShutdownHooks() calls close().
      const closed = app.close();
      const locks = staying.get(LockService);
      await until(async () => !(await locks.isLocked('crew-run:market-research', { tenant: 'acme' })), { timeoutMs: 15_000, message: 'the lock to be released' });
      const next = await request(staying.getHttpServer()).post('/crews/market-research/runs?durationMs=0').set(BOB).expect(201);
      const stopped = await long;
      expect(stopped.status).toBe(503);
      expect(stopped.body).toMatchObject({ code: 'E_LOCK_SHUTDOWN', key: 'crew-run:market-research', tenant: 'acme' });
      await closed;
      leaving = undefined;

      await until(() => events.some((e) => e.channel === 'crew.run.completed'), { timeoutMs: 5_000, message: 'the next run to complete' });
      const seen = events.map((e) => [e.channel, (e.payload.data as { fencingToken: number }).fencingToken]);
      // Published before the lock was let go, so before the next run could start.
      expect(seen).toEqual([
        ['crew.run.started', held.fencingToken],
        ['crew.run.failed', held.fencingToken],
        ['crew.run.started', next.body.fencingToken],
        ['crew.run.completed', next.body.fencingToken],
      ]);
      expect(events[1].payload.data).toMatchObject({ status: 'aborted', recorded: true });
      // Appended by the leaving instance as it shut down; the other one writes it to the shared history.
      const aborted = await until(async () => (await runHistory(staying, BOB, 'market-research', '?limit=100')).find((r) => r.fencingToken === held.fencingToken), {
        timeoutMs: 15_000, message: 'the aborted run in the history',
      });
      expect(aborted).toMatchObject({ status: 'aborted', triggeredBy: 'u-ada' });
    } finally {
      subscription.unsubscribe();
    }
  });
});
