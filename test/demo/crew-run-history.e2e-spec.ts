import type { INestApplication } from '@nestjs/common';
import { StreamService } from '@nest-coordination/core';
import request from 'supertest';
import { CrewRunHistory } from '../../apps/demo/src/crews/crew-run-history.service.js';
import { CREW_RUN_EVENTS } from '../../apps/demo/src/crews/crew-run-events.js';
import { CrewStore, MAX_RUNS_PER_CREW } from '../../apps/demo/src/crews/crew-store.js';
import type { CrewRun } from '../../apps/demo/src/crews/crew.model.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { DEMO_BACKENDS, as, bootDemo, historyCaughtUp, recordedRun, runHistory } from './demo-test-app.js';

const ADA = as('u-ada', 'acme');
const BOB = as('u-bob', 'acme');
const CLEO = as('u-cleo', 'acme');
const HANK = as('u-hank', 'globex');

const runCrew = (app: INestApplication, headers: Record<string, string>, crewId: string) =>
  request(app.getHttpServer()).post(`/crews/${crewId}/runs?durationMs=0`).set(headers).expect(201).then((res) => res.body as CrewRun & { crewId: string });

describe.each(DEMO_BACKENDS)('demo app: the crew run history, built from the crew event stream ($name)', (driver) => {
  let app: INestApplication;

  beforeAll(async () => {
    ({ app } = await bootDemo(driver));
  });

  afterAll(async () => {
    await app?.close();
  });

  it('shows a run in GET /crews/:crewId/runs, newest first, after the seeded history, and in GET /crews', async () => {
    const first = await runCrew(app, ADA, 'market-research');
    const second = await runCrew(app, ADA, 'market-research');
    await recordedRun(app, ADA, 'market-research', second.id);
    await recordedRun(app, ADA, 'market-research', first.id);

    const runs = await runHistory(app, ADA, 'market-research');
    expect(runs.map((r) => r.id)).toEqual([second.id, first.id, 'r-1']);
    expect(runs[0]).toEqual({
      id: second.id, status: 'succeeded', startedAt: second.startedAt, finishedAt: second.finishedAt, triggeredBy: 'u-ada', fencingToken: second.fencingToken,
    });
    const crews = await request(app.getHttpServer()).get('/crews').set(ADA).expect(200);
    expect(crews.body.find((c: { id: string }) => c.id === 'market-research').runs).toEqual(runs);
    // Another company's crew of the same id has a history of its own.
    expect(await runHistory(app, HANK, 'market-research')).toEqual([]);
  });

  it('pages with limit and before, and answers 404 for a crew of another company, 400 for a bad page', async () => {
    const run = await runCrew(app, BOB, 'support-triage');
    await recordedRun(app, BOB, 'support-triage', run.id);
    await runCrew(app, BOB, 'support-triage').then((next) => recordedRun(app, BOB, 'support-triage', next.id));

    const all = await runHistory(app, BOB, 'support-triage');
    expect(all.length).toBeGreaterThanOrEqual(2);
    const [newest] = await runHistory(app, BOB, 'support-triage', '?limit=1');
    expect(newest).toEqual(all[0]);
    const rest = await runHistory(app, BOB, 'support-triage', `?before=${encodeURIComponent(newest.finishedAt!)}`);
    expect(rest).toEqual(all.slice(1));

    await request(app.getHttpServer()).get('/crews/release-notes/runs').set(BOB).expect(404);
    for (const query of ['?limit=0', '?limit=101', '?limit=ten', '?before=yesterday']) {
      const res = await request(app.getHttpServer()).get(`/crews/support-triage/runs${query}`).set(BOB).expect(400);
      expect(JSON.stringify(res.body.message)).toMatch(/limit|before/);
    }
  });

  it('writes each run once, however often its events are handled (at-least-once delivery)', async () => {
    const run = await runCrew(app, CLEO, 'market-research');
    await recordedRun(app, CLEO, 'market-research', run.id);
    await historyCaughtUp(app, 'acme');
    const before = await runHistory(app, CLEO, 'market-research', '?limit=100');

    // Every event of the stream handled once more, as a consumer that crashed before its ack would.
    const history = app.get(CrewRunHistory);
    for (const entry of await app.get(StreamService).read(CREW_RUN_EVENTS, { tenant: 'acme', count: 1_000 })) await history.project(entry);
    expect(await runHistory(app, CLEO, 'market-research', '?limit=100')).toEqual(before);
  });

  it(`keeps the newest ${MAX_RUNS_PER_CREW} runs of a crew`, async () => {
    const store = app.get(CrewStore);
    const at = (i: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, i)).toISOString();
    for (let i = 0; i <= MAX_RUNS_PER_CREW; i++) {
      await store.saveRun('initech', 'tps-reports', { id: `bulk-${i}`, status: 'succeeded', startedAt: at(i), finishedAt: at(i), triggeredBy: 'u-peter' });
    }
    const kept = await store.runs('initech', 'tps-reports', { limit: MAX_RUNS_PER_CREW + 10 });
    expect(kept).toHaveLength(MAX_RUNS_PER_CREW);
    expect(kept[0].id).toBe(`bulk-${MAX_RUNS_PER_CREW}`);
    expect(kept.map((r) => r.id)).not.toContain('bulk-0');
  });
});

describe.each(REDIS_DRIVERS.filter((d) => d.name === 'standalone'))('demo app: one run history for every instance ($name)', (driver) => {
  const apps: INestApplication[] = [];

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });

  it('shows a run made on one instance in the history of the other, and of an instance started later', async () => {
    const prefix = uniquePrefix('demo');
    const [a, b] = await Promise.all([bootDemo(driver, { prefix }), bootDemo(driver, { prefix })]).then((booted) => booted.map((x) => x.app));
    apps.push(a, b);

    const onA = await runCrew(a, ADA, 'market-research');
    const onB = await runCrew(b, BOB, 'market-research');
    expect(await recordedRun(b, BOB, 'market-research', onA.id)).toMatchObject({ status: 'succeeded', triggeredBy: 'u-ada', fencingToken: onA.fencingToken });
    expect(await recordedRun(a, ADA, 'market-research', onB.id)).toMatchObject({ status: 'succeeded', triggeredBy: 'u-bob', fencingToken: onB.fencingToken });
    await historyCaughtUp(a, 'acme');
    const history = await runHistory(a, ADA, 'market-research');
    expect(history.map((r) => r.id)).toEqual([onB.id, onA.id, 'r-1']);
    expect(await runHistory(b, ADA, 'market-research')).toEqual(history);

    // A new instance (a new group member, nothing in its memory) serves the same history at once.
    const c = (await bootDemo(driver, { prefix })).app;
    apps.push(c);
    expect(await runHistory(c, ADA, 'market-research')).toEqual(history);
  });
});
