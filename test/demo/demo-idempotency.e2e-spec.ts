import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { CrewRun } from '../../apps/demo/src/crews/crew.model.js';
import { until } from '../support/wait.js';
import { DEMO_BACKENDS, as, bootDemo, historyCaughtUp, runHistory } from './demo-test-app.js';

// One user per test where it can: the per-user quota (5 runs a minute) also counts retries (guards run first).
const ADA = as('u-ada', 'acme');
const BOB = as('u-bob', 'acme');
const CLEO = as('u-cleo', 'acme');
const HANK = as('u-hank', 'globex');

describe.each(DEMO_BACKENDS)('demo app: POST /crews/:crewId/runs with an Idempotency-Key ($name)', (driver) => {
  let app: INestApplication;

  beforeAll(async () => {
    ({ app } = await bootDemo(driver));
  });

  afterAll(async () => {
    await app?.close();
  });

  const run = (headers: Record<string, string>, crewId: string, query: string, key?: string) => {
    const req = request(app.getHttpServer()).post(`/crews/${crewId}/runs${query}`).set(headers);
    return key === undefined ? req : req.set('Idempotency-Key', key);
  };
  /** The runs of the crew `userId` started since `since` (ms), once the history has every run event so far. */
  const runsBy = async (headers: Record<string, string>, crewId: string, userId: string, since: number): Promise<CrewRun[]> => {
    await historyCaughtUp(app, headers['x-company-id']);
    const runs = await runHistory(app, headers, crewId, '?limit=100');
    return runs.filter((r) => r.triggeredBy === userId && Date.parse(r.startedAt) >= since);
  };

  it('runs once: a retry with the same key gets the same run back, byte for byte, marked Idempotent-Replayed', async () => {
    const since = Date.now() - 1_000;
    const first = await run(ADA, 'market-research', '?durationMs=0', 'run-1').expect(201);
    expect(first.body).toMatchObject({ crewId: 'market-research', status: 'succeeded', triggeredBy: 'u-ada' });
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    const retry = await run(ADA, 'market-research', '?durationMs=0', 'run-1').expect(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.text).toBe(first.text);
    expect(retry.headers['content-type']).toBe(first.headers['content-type']);
    // One run in the fleet's history, not two.
    expect((await runsBy(ADA, 'market-research', 'u-ada', since)).map((r) => r.id)).toEqual([first.body.id]);
  });

  it('answers 422 to the same key with another request (query, crew or body), running nothing', async () => {
    const since = Date.now() - 1_000;
    const first = await run(BOB, 'support-triage', '?durationMs=0', 'run-2').expect(201);
    for (const other of [
      run(BOB, 'support-triage', '?durationMs=1', 'run-2'),
      run(BOB, 'market-research', '?durationMs=0', 'run-2'),
      run(BOB, 'support-triage', '?durationMs=0', 'run-2').send({ note: 'another body' }),
    ]) {
      const res = await other.expect(422);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body).toMatchObject({ status: 422, code: 'E_IDEMPOTENCY_MISMATCH' });
    }
    expect((await runsBy(BOB, 'support-triage', 'u-bob', since)).map((r) => r.id)).toEqual([first.body.id]);
    expect(await runsBy(BOB, 'market-research', 'u-bob', since)).toEqual([]);
  });

  it('makes a duplicate sent while the run works wait for its answer, where the crew lock alone would answer 409', async () => {
    const since = Date.now() - 1_000;
    const [a, b] = await Promise.all([
      run(CLEO, 'support-triage', '?durationMs=1000', 'run-3'),
      run(CLEO, 'support-triage', '?durationMs=1000', 'run-3'),
    ]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.text).toBe(a.text);
    expect([a.headers['idempotent-replayed'], b.headers['idempotent-replayed']].sort()).toEqual(['true', undefined]);
    expect((await runsBy(CLEO, 'support-triage', 'u-cleo', since)).map((r) => r.id)).toEqual([a.body.id]);
  });

  it('keeps keys per user: another user of the company with the same key gets a run of their own', async () => {
    const ada = await run(ADA, 'market-research', '?durationMs=0', 'shared-key').expect(201);
    const bob = await run(BOB, 'market-research', '?durationMs=0', 'shared-key').expect(201);
    expect(bob.headers['idempotent-replayed']).toBeUndefined();
    expect(bob.body).toMatchObject({ triggeredBy: 'u-bob', status: 'succeeded' });
    expect(bob.body.id).not.toBe(ada.body.id);
  });

  it('does not keep a 409: once the crew is free, a retry with the key runs', async () => {
    const holder = run(HANK, 'release-notes', '?durationMs=1500').then((r) => r);
    await until(async () => {
      const res = await request(app.getHttpServer()).get('/locks').set(HANK).expect(200);
      return (res.body as Array<{ key: string }>).some((lock) => lock.key === 'crew-run:release-notes');
    }, { timeoutMs: 5_000, message: 'the first run to hold the crew lock' });

    const busy = await run(HANK, 'release-notes', '?durationMs=0', 'run-5').expect(409);
    expect(busy.body).toMatchObject({ code: 'E_LOCK_TIMEOUT' });
    expect((await holder).status).toBe(201);

    const retry = await run(HANK, 'release-notes', '?durationMs=0', 'run-5').expect(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(retry.body).toMatchObject({ crewId: 'release-notes', status: 'succeeded', triggeredBy: 'u-hank' });
  });

  it('answers 400 to a key that is not printable ASCII, before running anything', async () => {
    const res = await run(HANK, 'market-research', '?durationMs=0', 'x'.repeat(256)).expect(400);
    expect(res.body).toMatchObject({ code: 'E_IDEMPOTENCY_KEY_INVALID' });
  });
});
