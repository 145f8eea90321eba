import type { INestApplication } from '@nestjs/common';
import { LockService } from '@nest-coordination/core';
import request from 'supertest';
import { until } from '../support/wait.js';
import { ADA_LOGIN, sessionSetCookie } from './demo-login-support.js';
import { DEMO_BACKENDS, as, bootDemo, runHistory } from './demo-test-app.js';

// The demo's GraphQL API (`POST /graphql`): `crewRuns` and `runCrew` under the demo's guards, the
// library's limits and the crew's lock, shared with the HTTP routes.

// Each test acts as its own user: per-user quotas are shared by the whole file.
const ADA = as('u-ada', 'acme');
const BOB = as('u-bob', 'acme');
const CLEO = as('u-cleo', 'acme');
const HANK = as('u-hank', 'globex');

interface GraphQLAnswer {
  headers: Record<string, string>;
  data: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: string[]; extensions: Record<string, unknown> }>;
}

describe.each(DEMO_BACKENDS)('demo app: GraphQL ($name)', (driver) => {
  let app: INestApplication;

  beforeAll(async () => {
    ({ app } = await bootDemo(driver));
  });

  afterAll(async () => {
    await app?.close();
  });

  async function gql(headers: Record<string, string>, query: string): Promise<GraphQLAnswer> {
    const res = await request(app.getHttpServer()).post('/graphql').set(headers).send({ query });
    expect(res.status).toBe(200);
    return { headers: res.headers as Record<string, string>, data: res.body.data, errors: res.body.errors };
  }

  it("crewRuns: the crew's run history, as GET /crews/:crewId/runs shows it, under the user's and the company's quotas", async () => {
    const answer = await gql(ADA, '{ crewRuns(crewId: "market-research", limit: 3) { id status triggeredBy startedAt finishedAt fencingToken } }');
    expect(answer.errors).toBeUndefined();
    const overHttp = await runHistory(app, ADA, 'market-research', '?limit=3');
    expect(answer.data?.crewRuns).toEqual(overHttp.map((run) => ({ fencingToken: null, finishedAt: null, ...run })));
    expect(answer.headers['ratelimit-policy']).toBe('"crew-runs-query-user";q=60;w=60, "crew-runs-query-company";q=600;w=60');
  });

  it("crewRuns: another company's crew is not found; no credentials or no company are refused with their codes", async () => {
    const foreign = await gql(HANK, '{ crewRuns(crewId: "support-triage") { id } }');
    expect(foreign.data).toBeNull();
    expect(foreign.errors?.[0]).toMatchObject({ message: 'Crew "support-triage" not found', extensions: { status: 404 } });
    const noUser = await gql({ 'x-company-id': 'acme' }, '{ crewRuns(crewId: "market-research") { id } }');
    expect(noUser.errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
    const noCompany = await gql({ 'x-user-id': 'u-ada' }, '{ crewRuns(crewId: "market-research") { id } }');
    expect(noCompany.errors?.[0].extensions.code).toBe('E_TENANT_REQUIRED');
    const otherCompany = await gql(as('u-ada', 'globex'), '{ crewRuns(crewId: "market-research") { id } }');
    expect(otherCompany.errors?.[0].extensions.code).toBe('FORBIDDEN');
  });

  it('crewRuns with a session cookie: the company is the session\'s, no headers', async () => {
    const login = await request(app.getHttpServer()).post('/auth/login').set('content-type', 'application/json').send(ADA_LOGIN).expect(201);
    const cookie = sessionSetCookie(login)!.split(';')[0];
    const answer = await gql({ cookie }, '{ crewRuns(crewId: "market-research", limit: 1) { id } }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.crewRuns).toHaveLength(1);
    const forged = await gql({ cookie: `${cookie}x` }, '{ crewRuns(crewId: "market-research", limit: 1) { id } }');
    expect(forged.errors?.[0].extensions.code).toBe('E_SESSION_NOT_FOUND');
  });

  it('crewRuns over the user quota (60 a minute): E_RATE_LIMITED with the retry time and Retry-After', async () => {
    for (let i = 0; i < 60; i++) expect((await gql(BOB, '{ crewRuns(crewId: "market-research", limit: 1) { id } }')).errors).toBeUndefined();
    const denied = await gql(BOB, '{ crewRuns(crewId: "market-research", limit: 1) { id } }');
    expect(denied.data).toBeNull();
    expect(denied.errors?.[0].extensions).toMatchObject({ code: 'E_RATE_LIMITED', policy: 'crew-runs-query-user', limit: 60 });
    expect(denied.errors?.[0].extensions.retryAfterMs).toBeGreaterThan(0);
    expect(denied.headers['retry-after']).toBe(String(denied.errors?.[0].extensions.retryAfterSeconds));
    // The company's other users are not held back.
    expect((await gql(CLEO, '{ crewRuns(crewId: "market-research", limit: 1) { id } }')).errors).toBeUndefined();
  });

  it('runCrew takes the crew lock of POST /crews/:crewId/runs: while one runs, either way is refused', async () => {
    const hank = as('u-hank', 'globex');
    const running = gql(hank, 'mutation { runCrew(crewId: "release-notes", durationMs: 1500) { id crewId status triggeredBy fencingToken } }');
    const locks = app.get(LockService);
    const held = await until(async () => {
      const lock = await locks.inspect('crew-run:release-notes', { tenant: 'globex' });
      return lock.held ? lock : undefined;
    }, { timeoutMs: 10_000, message: 'the GraphQL run to hold the crew lock' });

    const overGraphQL = await gql(hank, 'mutation { runCrew(crewId: "release-notes", durationMs: 0) { id } }');
    expect(overGraphQL.errors?.[0].extensions).toMatchObject({ code: 'E_LOCK_TIMEOUT', key: 'crew-run:release-notes', tenant: 'globex' });
    const overHttp = await request(app.getHttpServer()).post('/crews/release-notes/runs?durationMs=0').set(hank).expect(409);
    expect(overHttp.body).toMatchObject({ code: 'E_LOCK_TIMEOUT' });

    const done = await running;
    expect(done.errors).toBeUndefined();
    expect(done.data?.runCrew).toMatchObject({ crewId: 'release-notes', status: 'succeeded', triggeredBy: 'u-hank', fencingToken: held.fencingToken });
  });

  it('runCrew counts against the quotas of POST /crews/:crewId/runs: one counter of 5 a minute per user, however a run is started', async () => {
    const crews = ['market-research', 'support-triage'];
    for (let i = 0; i < 3; i++) await request(app.getHttpServer()).post(`/crews/${crews[i % 2]}/runs?durationMs=0`).set(CLEO).expect(201);
    for (let i = 0; i < 2; i++) {
      const answer = await gql(CLEO, `mutation { runCrew(crewId: "${crews[i % 2]}", durationMs: 0) { status } }`);
      expect(answer.data).toEqual({ runCrew: { status: 'succeeded' } });
    }
    const denied = await gql(CLEO, 'mutation { runCrew(crewId: "market-research", durationMs: 0) { status } }');
    expect(denied.errors?.[0].extensions).toMatchObject({ code: 'E_RATE_LIMITED', policy: 'crew-run-user', limit: 5 });
    await request(app.getHttpServer()).post('/crews/market-research/runs?durationMs=0').set(CLEO).expect(429);
  });
});
