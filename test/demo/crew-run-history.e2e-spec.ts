import { jest } from '@jest/globals';
import { Logger, type INestApplication } from '@nestjs/common';
import { CREW_EVENTS, StreamService } from '@nest-coordination/core';
import { Redis } from 'ioredis';
import request from 'supertest';
import { StreamKeys } from '../../libs/coordination/src/streams/stream-keys.js';
import { CrewRunHistory, RUN_HISTORY_GROUP } from '../../apps/demo/src/crews/crew-run-history.service.js';
import { CREW_RUN_EVENTS } from '../../apps/demo/src/crews/crew-run-events.js';
import { CrewStore, MAX_RUNS_PER_CREW } from '../../apps/demo/src/crews/crew-store.js';
import type { CrewRun } from '../../apps/demo/src/crews/crew.model.js';
import { testRedisUrl } from '../harness/env.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { CoordinationCore } from '../support/internals.js';
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

  /** Every page of the crew's history, `limit` at a time, each asked with the X-Next-Cursor of the one before. */
  const pages = async (headers: Record<string, string>, crewId: string, limit: number): Promise<CrewRun[][]> => {
    const all: CrewRun[][] = [];
    let query = `?limit=${limit}`;
    for (let n = 0; n < 50; n++) {
      const res = await request(app.getHttpServer()).get(`/crews/${crewId}/runs${query}`).set(headers).expect(200);
      all.push(res.body as CrewRun[]);
      const cursor = res.headers['x-next-cursor'];
      if (cursor === undefined) return all;
      query = `?limit=${limit}&cursor=${encodeURIComponent(cursor)}`;
    }
    throw new Error('still paging after 50 pages: the cursor does not move on');
  };

  it('pages with limit and the X-Next-Cursor of the page before, and answers 404 for a crew of another company, 400 for a bad page', async () => {
    const run = await runCrew(app, BOB, 'support-triage');
    await recordedRun(app, BOB, 'support-triage', run.id);
    await runCrew(app, BOB, 'support-triage').then((next) => recordedRun(app, BOB, 'support-triage', next.id));

    const all = await runHistory(app, BOB, 'support-triage');
    expect(all.length).toBeGreaterThanOrEqual(2);
    const [first, ...rest] = await pages(BOB, 'support-triage', 1);
    expect(first).toEqual([all[0]]);
    expect(rest.flat()).toEqual(all.slice(1));
    // A page shorter than the limit is the last: no cursor.
    const whole = await request(app.getHttpServer()).get('/crews/support-triage/runs?limit=100').set(BOB).expect(200);
    expect(whole.headers['x-next-cursor']).toBeUndefined();

    await request(app.getHttpServer()).get('/crews/release-notes/runs').set(BOB).expect(404);
    const forged = Buffer.from(JSON.stringify(['soon', 'r-1'])).toString('base64url');
    // `before` (a time) is gone: a time alone cannot page through runs that finished in the same millisecond.
    for (const query of ['?limit=0', '?limit=101', '?limit=ten', '?cursor=yesterday', `?cursor=${forged}`, '?before=2025-01-06T09:04:10Z']) {
      const res = await request(app.getHttpServer()).get(`/crews/support-triage/runs${query}`).set(BOB).expect(400);
      expect(JSON.stringify(res.body.message)).toMatch(/limit|cursor|before/);
    }
  });

  it('pages through runs that finished in the same millisecond: each once, ties ordered by id', async () => {
    const store = app.get(CrewStore);
    const finishedAt = '2031-05-01T12:00:00.000Z';
    for (const id of ['tie-b', 'tie-d', 'tie-a', 'tie-c']) {
      await store.saveRun('globex', 'release-notes', { id, status: 'succeeded', startedAt: finishedAt, finishedAt, triggeredBy: 'u-hank' });
    }
    const history = await runHistory(app, HANK, 'release-notes', '?limit=100');
    expect(history.map((r) => r.id)).toEqual(['tie-d', 'tie-c', 'tie-b', 'tie-a', 'r-2']);
    for (const limit of [1, 2, 3]) expect((await pages(HANK, 'release-notes', limit)).flat()).toEqual(history);
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

  it('skips and logs run events lacking what a run record needs: no half record, no retries', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const facts = { crewId: 'support-triage', companyId: 'acme', triggeredBy: 'u-bob', fencingToken: 1, startedAt: new Date().toISOString() };
      const malformed: unknown[] = [
        { type: 'crew.run.completed', crewId: 'support-triage', runId: 'half-1', durationMs: 1, at: new Date() }, // who started it, and when?
        { type: 'crew.run.completed', ...facts, runId: 'half-2', durationMs: 1, at: 'yesterday' }, // when did it finish?
        { type: 'crew.run.completed', ...facts, runId: 'half-3', fencingToken: 'one', durationMs: 1, at: new Date() },
        // Only an aborted or failed run is recorded from crew.run.failed (a refused one never is).
        { type: 'crew.run.failed', ...facts, runId: 'half-4', status: 'refused', recorded: true, error: 'refused', at: new Date() },
        'not an event',
      ];
      // Appended to the library's stream as any producer could: its type says nothing about what is in it.
      const ids: string[] = [];
      for (const event of malformed) ids.push(await app.get(StreamService).append(CREW_EVENTS.name, event, { tenant: 'acme' }));
      const after = await runCrew(app, BOB, 'support-triage');
      await recordedRun(app, BOB, 'support-triage', after.id);
      // Handled and acked, not left pending for a retry.
      await historyCaughtUp(app, 'acme');

      const recorded = (await runHistory(app, BOB, 'support-triage', '?limit=100')).map((r) => r.id);
      for (const id of ['half-1', 'half-2', 'half-3', 'half-4']) expect(recorded).not.toContain(id);
      const warnings = warn.mock.calls.map(([message]) => String(message));
      for (const id of ids) expect(warnings.filter((message) => message.includes(id))).toHaveLength(1);
    } finally {
      warn.mockRestore();
    }
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

  it('tells the history caught up when Redis no longer counts the lag (an entry deleted before it was delivered)', async () => {
    const { app } = await bootDemo(driver);
    apps.push(app);
    const first = await runCrew(app, ADA, 'support-triage');
    await recordedRun(app, ADA, 'support-triage', first.id);
    await historyCaughtUp(app, 'acme');
    // Appended and deleted at once: the group never sees it (as if trimmed before delivery).
    const key = new StreamKeys(app.get(CoordinationCore).keys).of('acme', CREW_EVENTS.name).stream;
    const redis = new Redis(testRedisUrl());
    try {
      await redis.eval("local id = redis.call('XADD', KEYS[1], '*', 'd', 'gone') redis.call('XDEL', KEYS[1], id) return id", 1, key);
    } finally {
      redis.disconnect();
    }
    const second = await runCrew(app, ADA, 'support-triage');
    await recordedRun(app, ADA, 'support-triage', second.id);
    await historyCaughtUp(app, 'acme');
    // Redis 7.0 counts the deleted entry as lag for good: `lag === 0` would never hold.
    const group = (await app.get(StreamService).groups(CREW_RUN_EVENTS, { tenant: 'acme' })).find((g) => g.group === RUN_HISTORY_GROUP);
    expect(group?.lag).not.toBe(0);
  });
});
