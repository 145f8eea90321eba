import type { INestApplication } from '@nestjs/common';
import { EventBus, LockService, type CoordinationEvent, type HeldLockInfo } from '@nest-coordination/core';
import request from 'supertest';
import type { CrewEventPayload } from '../../apps/demo/src/crews/crew.model.js';
import { CrewsService } from '../../apps/demo/src/crews/crews.service.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { as, bootDemo } from './demo-test-app.js';

const ADA = as('u-ada', 'acme');
const BOB = as('u-bob', 'acme');

describe.each(REDIS_DRIVERS.filter((d) => d.name === 'standalone'))('demo app: an instance shutting down mid-run ($name)', (driver) => {
  let leaving: INestApplication | undefined;
  let staying: INestApplication;

  beforeAll(async () => {
    const prefix = uniquePrefix('demo');
    leaving = (await bootDemo(driver, { prefix })).app;
    staying = (await bootDemo(driver, { prefix })).app;
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
      const crews = app.get(CrewsService);
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
      expect(crews.runsOf('acme', 'market-research')).toEqual(expect.arrayContaining([
        expect.objectContaining({ fencingToken: held.fencingToken, status: 'aborted' }),
      ]));
    } finally {
      subscription.unsubscribe();
    }
  });
});
