import { jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { StreamService, type DeadLetter } from '@nest-coordination/core';
import request from 'supertest';
import { RUN_HISTORY_GROUP } from '../../apps/demo/src/crews/crew-run-history.service.js';
import { CREW_RUN_EVENTS, type CrewRunStreamEvent } from '../../apps/demo/src/crews/crew-run-events.js';
import { CrewStore } from '../../apps/demo/src/crews/crew-store.js';
import type { CrewRun } from '../../apps/demo/src/crews/crew.model.js';
import type { DemoConfig } from '../../apps/demo/src/demo.config.js';
import { until } from '../support/wait.js';
import { DEMO_BACKENDS, as, bootDemo, historyCaughtUp, recordedRun, runHistory } from './demo-test-app.js';

const ADA = as('u-ada', 'acme'); // owner
const BOB = as('u-bob', 'acme'); // operator
const HANK = as('u-hank', 'globex'); // owner of another company

/** Two deliveries, a retry a second after a failure: a history write that keeps failing is set aside quickly. */
const configure = (config: DemoConfig): DemoConfig => ({
  ...config,
  runHistory: { ...config.runHistory, maxDeliveries: 2 },
  coordination: { ...config.coordination, streams: { consumerDefaults: { claimIdleMs: 1_000 } } },
});

describe.each(DEMO_BACKENDS)('demo app: run events the history could not write, set aside and replayed ($name)', (driver) => {
  let app: INestApplication;

  beforeAll(async () => {
    ({ app } = await bootDemo(driver, { configure }));
  });

  afterAll(async () => {
    await app?.close();
  });

  const deadLetters = (headers: Record<string, string>) =>
    request(app.getHttpServer()).get('/crews/runs/dead-letters').set(headers);
  const replay = (headers: Record<string, string>, id: string) =>
    request(app.getHttpServer()).post(`/crews/runs/dead-letters/${encodeURIComponent(id)}/replay`).set(headers);

  it('lists the run events whose history write failed maxDeliveries times (owners only), and replays one into the history', async () => {
    // The crew store refuses support-triage's runs, as a database that is down for that long would.
    const store = app.get(CrewStore);
    const saveRun = store.saveRun.bind(store);
    const broken = jest.spyOn(store, 'saveRun').mockImplementation(async (companyId: string, crewId: string, run: CrewRun) => {
      if (crewId === 'support-triage') throw new Error('the crew store refused the write');
      return saveRun(companyId, crewId, run);
    });
    let letter: DeadLetter<CrewRunStreamEvent>;
    let runId: string;
    try {
      runId = (await request(app.getHttpServer()).post('/crews/support-triage/runs?durationMs=0').set(BOB).expect(201)).body.id;
      // Polled through the service: the route is rate-limited.
      const streams = app.get(StreamService);
      await until(async () => (await streams.deadLetters(CREW_RUN_EVENTS, { tenant: 'acme' })).some((l) => l.payload.runId === runId), {
        timeoutMs: 20_000, message: 'the run event in the dead letters',
      });
      expect(broken.mock.calls.filter(([, crewId]) => crewId === 'support-triage')).toHaveLength(2);
    } finally {
      broken.mockRestore();
    }
    const letters = (await deadLetters(ADA).expect(200)).body as Array<DeadLetter<CrewRunStreamEvent>>;
    expect(letters.filter((l) => l.payload.runId === runId)).toHaveLength(1);
    letter = letters.find((l) => l.payload.runId === runId)!;
    expect(letter).toMatchObject({
      group: RUN_HISTORY_GROUP, deliveries: 2, error: 'the crew store refused the write', tenant: 'acme',
      payload: { type: 'crew.run.completed', crewId: 'support-triage', runId, triggeredBy: 'u-bob' },
    });
    await historyCaughtUp(app, 'acme');
    expect((await runHistory(app, BOB, 'support-triage', '?limit=100')).map((r) => r.id)).not.toContain(runId);

    // Owners only; another company's owner sees its own (none).
    expect((await deadLetters(BOB).expect(403)).body.message).toContain('u-bob');
    await replay(BOB, letter.id).expect(403);
    expect((await deadLetters(HANK).expect(200)).body).toEqual([]);
    await replay(HANK, letter.id).expect(404);

    const replayed = await replay(ADA, letter.id).expect(202);
    expect(replayed.body).toEqual({ entryId: expect.stringMatching(/^\d+-\d+$/) });
    expect(await recordedRun(app, ADA, 'support-triage', runId)).toMatchObject({ status: 'succeeded', triggeredBy: 'u-bob' });
    expect(((await deadLetters(ADA).expect(200)).body as DeadLetter[]).map((l) => l.id)).not.toContain(letter.id);
    const again = await replay(ADA, letter.id).expect(404);
    expect(again.body.code).toBe('E_DEAD_LETTER_NOT_FOUND');
  });

  it('answers 404 for an unknown dead letter and 400 for a malformed id or page', async () => {
    expect((await replay(ADA, '1-1').expect(404)).body.code).toBe('E_DEAD_LETTER_NOT_FOUND');
    expect((await replay(ADA, 'latest').expect(400)).body.code).toBe('E_INVALID_ARGUMENT');
    for (const query of ['?limit=0', '?limit=101', '?after=yesterday']) {
      const res = await request(app.getHttpServer()).get(`/crews/runs/dead-letters${query}`).set(ADA).expect(400);
      expect(JSON.stringify(res.body)).toMatch(/limit|after/);
    }
  });
});
