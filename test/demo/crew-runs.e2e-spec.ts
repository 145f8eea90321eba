import type { INestApplication } from '@nestjs/common';
import { EventBus, type CoordinationEvent, type HeldLockInfo, type RateLimitViolation } from '@nest-coordination/core';
import request from 'supertest';
import type { CrewEventPayload } from '../../apps/demo/src/crews/crew.model.js';
import { until } from '../support/wait.js';
import { DEMO_BACKENDS, SseClient, as, bootDemo, recordedRun, repeatUntil } from './demo-test-app.js';

// Each test acts as its own user where it can: per-user quotas (5 runs a minute) are shared by the whole file.
const ADA = as('u-ada', 'acme');
const BOB = as('u-bob', 'acme');
const CLEO = as('u-cleo', 'acme');
const HANK = as('u-hank', 'globex');
const PETER = as('u-peter', 'initech');

describe.each(DEMO_BACKENDS)('demo app: crew runs, locks and rate limits ($name)', (driver) => {
  let app: INestApplication;
  let port: number;

  beforeAll(async () => {
    ({ app, port } = await bootDemo(driver));
  });

  afterAll(async () => {
    await app?.close();
  });

  const run = (headers: Record<string, string>, crewId: string, durationMs: number) =>
    request(app.getHttpServer()).post(`/crews/${crewId}/runs?durationMs=${durationMs}`).set(headers);
  const callAgent = (headers: Record<string, string>) =>
    request(app.getHttpServer()).post('/crews/market-research/agents/a-1/calls').set(headers);
  const heldLock = async (headers: Record<string, string>, key: string): Promise<HeldLockInfo | undefined> => {
    const res = await request(app.getHttpServer()).get('/locks').set(headers).expect(200);
    return (res.body as HeldLockInfo[]).find((lock) => lock.key === key);
  };

  it('runs a crew, returns its fencing token and publishes crew.run.started / crew.run.completed to the company', async () => {
    const stream = app.get(EventBus).on<CrewEventPayload>('crew.run.*', { tenant: 'acme' });
    const received: CoordinationEvent<CrewEventPayload>[] = [];
    const subscription = stream.subscribe((e) => received.push(e));
    try {
      await stream.ready();
      const first = await run(ADA, 'market-research', 0).expect(201);
      expect(first.body).toMatchObject({ crewId: 'market-research', status: 'succeeded', triggeredBy: 'u-ada' });
      expect(first.body.fencingToken).toBeGreaterThan(0);
      expect(first.headers['ratelimit-policy']).toBe('"crew-run-user";q=5;w=60, "crew-run-company";q=50;w=60, "crew-run-endpoint";q=500;w=60');
      expect(first.headers.ratelimit).toContain('"crew-run-user";r=');

      await until(() => received.length >= 2, { timeoutMs: 5_000, message: 'the run events' });
      const { id: runId, fencingToken } = first.body;
      expect(received.map((e) => [e.channel, e.tenant])).toEqual([['crew.run.started', 'acme'], ['crew.run.completed', 'acme']]);
      expect(received[0].payload).toMatchObject({ crewId: 'market-research', type: 'run.started', data: { runId, fencingToken, triggeredBy: 'u-ada' } });
      expect(received[1].payload).toMatchObject({ crewId: 'market-research', type: 'run.completed', data: { runId, fencingToken, status: 'succeeded' } });

      // Fencing tokens increase strictly per lock, and the run history records them.
      const second = await run(ADA, 'market-research', 0).expect(201);
      expect(second.body.fencingToken).toBeGreaterThan(fencingToken);
      // The history is written from the crew event stream, a moment after the run returned.
      expect(await recordedRun(app, ADA, 'market-research', runId)).toMatchObject({ fencingToken, status: 'succeeded' });
      expect(await recordedRun(app, ADA, 'market-research', second.body.id)).toMatchObject({ fencingToken: second.body.fencingToken });
      expect(await heldLock(ADA, 'crew-run:market-research')).toBeUndefined();
    } finally {
      subscription.unsubscribe();
    }
  });

  it('streams a run over SSE to the company', async () => {
    const sse = await SseClient.open(port, ADA);
    try {
      await repeatUntil(() => sse.events.length > 0, () => request(app.getHttpServer()).post('/crews/support-triage/events').set(ADA).send({ type: 'message' }).expect(202), 'SSE subscription');
      const res = await run(ADA, 'support-triage', 0).expect(201);
      await until(() => sse.events.some((e) => e.channel === 'crew.run.completed'), { timeoutMs: 5_000, message: 'crew.run.completed over SSE' });
      const runEvents = sse.events.filter((e) => String(e.channel).startsWith('crew.run.'));
      expect(runEvents.map((e) => e.channel)).toEqual(['crew.run.started', 'crew.run.completed']);
      expect(runEvents.every((e) => e.crewId === 'support-triage')).toBe(true);
      expect(runEvents.map((e) => (e.data as { fencingToken: number }).fencingToken)).toEqual([res.body.fencingToken, res.body.fencingToken]);
    } finally {
      sse.close();
    }
  });

  it('allows one run of a crew at a time: a concurrent run gets 409 E_LOCK_TIMEOUT', async () => {
    const first = run(BOB, 'support-triage', 1_500).then((r) => r);
    const held = await until(() => heldLock(BOB, 'crew-run:support-triage'), { timeoutMs: 5_000, message: 'the first run to hold its lock' });
    expect(held).toMatchObject({ tenant: 'acme', kind: 'mutex' });

    const second = await run(BOB, 'support-triage', 0);
    const done = await first;
    expect([done.status, second.status]).toEqual([201, 409]);
    expect(second.headers['content-type']).toContain('application/problem+json');
    expect(second.body).toMatchObject({ status: 409, code: 'E_LOCK_TIMEOUT', key: 'crew-run:support-triage', tenant: 'acme' });
    expect(done.body.fencingToken).toBe(held.fencingToken);
  });

  it('isolates locks per company: another company runs its same-named crew meanwhile', async () => {
    const acmeRun = run(ADA, 'market-research', 1_500).then((r) => r);
    await until(() => heldLock(ADA, 'crew-run:market-research'), { timeoutMs: 5_000, message: 'the acme run to hold its lock' });
    expect(await heldLock(HANK, 'crew-run:market-research')).toBeUndefined();

    const globexRun = await run(HANK, 'market-research', 0).expect(201);
    expect(globexRun.body).toMatchObject({ crewId: 'market-research', status: 'succeeded', triggeredBy: 'u-hank' });
    // The globex run completed while acme's run of its own market-research crew still held its lock.
    expect(await heldLock(ADA, 'crew-run:market-research')).toMatchObject({ tenant: 'acme', kind: 'mutex' });
    expect((await acmeRun).status).toBe(201);
  });

  it('limits runs per user: the sixth within a minute is 429 with Retry-After, other users go on', async () => {
    for (let i = 0; i < 5; i++) await run(CLEO, 'support-triage', 0).expect(201);
    const denied = await run(CLEO, 'support-triage', 0).expect(429);
    expect(Number(denied.headers['retry-after'])).toBeGreaterThan(0);
    expect(denied.body).toMatchObject({ code: 'E_RATE_LIMITED', policy: 'crew-run-user', limit: 5 });
    await run(BOB, 'support-triage', 0).expect(201);
  });

  it('limits agent calls to the user burst: 429 with Retry-After, IETF headers on success, violation recorded', async () => {
    const statuses: number[] = [];
    let denied: request.Response | undefined;
    for (let i = 0; i < 50 && !denied; i++) {
      const res = await callAgent(BOB);
      statuses.push(res.status);
      if (res.status === 429) denied = res;
      else {
        expect(res.status).toBe(201);
        expect(res.body).toMatchObject({ crewId: 'market-research', agentId: 'a-1', status: 'answered' });
        // The user's bucket refills 2/s but holds a burst of 5: the quota advertised is the burst.
        expect(res.headers['ratelimit-policy']).toBe('"agent-call-user";q=5;w=3, "agent-call-company";q=600;w=60');
        expect(res.headers.ratelimit).toMatch(/"agent-call-user";r=\d+;t=\d+/);
      }
    }
    expect(denied).toBeDefined();
    // The bucket starts full: the whole burst of 5 passes before the first denial.
    expect(statuses.indexOf(429)).toBeGreaterThanOrEqual(5);
    expect(Number(denied!.headers['retry-after'])).toBeGreaterThan(0);
    expect(denied!.body).toMatchObject({ code: 'E_RATE_LIMITED', policy: 'agent-call-user' });

    // Violations are written in batches (~50 ms): poll.
    const violation = await until(async () => {
      const res = await request(app.getHttpServer()).get('/limits/violations').set(BOB).expect(200);
      return (res.body as RateLimitViolation[]).find((v) => v.policy === 'agent-call-user' && v.key === 'user:u-bob');
    }, { timeoutMs: 5_000, message: 'the agent-call violation' });
    expect(violation).toMatchObject({ tenant: 'acme', scope: 'user', algorithm: 'token-bucket', limit: 2 });
    const scoped = await request(app.getHttpServer()).get('/limits/violations?scope=user&key=user:u-bob').set(BOB).expect(200);
    expect(scoped.body.length).toBeGreaterThan(0);
    expect(scoped.body.every((v: RateLimitViolation) => v.key === 'user:u-bob')).toBe(true);
    // Another company sees none of acme's violations.
    const other = await request(app.getHttpServer()).get('/limits/violations').set(HANK).expect(200);
    expect(other.body.every((v: RateLimitViolation) => v.tenant === 'globex')).toBe(true);
  });

  it('counts the endpoint rule for the endpoint as a whole: a run of another company takes from the same quota', async () => {
    const remaining = (res: request.Response, policy: string) => {
      const match = new RegExp(`"${policy}";r=(\\d+);t=(\\d+)`).exec(String(res.headers.ratelimit));
      if (!match) throw new Error(`no ${policy} in RateLimit: ${res.headers.ratelimit}`);
      return { r: Number(match[1]), t: Number(match[2]) };
    };
    // A fixed window may roll over between the runs (t jumps up): take them again then.
    const [first, other, last] = await until(async () => {
      const g1 = remaining(await run(HANK, 'release-notes', 0).expect(201), 'crew-run-endpoint');
      const i = remaining(await run(PETER, 'tps-reports', 0).expect(201), 'crew-run-endpoint');
      const g2 = remaining(await run(HANK, 'release-notes', 0).expect(201), 'crew-run-endpoint');
      return i.t <= g1.t && g2.t <= i.t && [g1, i, g2];
    }, { timeoutMs: 10_000, message: 'three runs within one window' });
    // Globex, Initech, Globex: one counter for all three.
    expect([other.r, last.r]).toEqual([first.r - 1, first.r - 2]);
  });

  it('answers 404 for an agent outside the crew, 400 for an out-of-range duration', async () => {
    await request(app.getHttpServer()).post('/crews/tps-reports/agents/a-1/calls').set(PETER).expect(404);
    for (const durationMs of ['-1', '30001', 'soon']) {
      const res = await request(app.getHttpServer()).post(`/crews/tps-reports/runs?durationMs=${durationMs}`).set(PETER).expect(400);
      expect(JSON.stringify(res.body.message)).toContain('durationMs');
    }
  });
});
