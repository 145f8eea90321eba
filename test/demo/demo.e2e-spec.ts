import type { INestApplication } from '@nestjs/common';
import { EventBus, type CoordinationEvent } from '@nest-coordination/core';
import request from 'supertest';
import type { CrewEventPayload } from '../../apps/demo/src/crews/crew.model.js';
import { COMPANY_HEADER, USER_HEADER } from '../../apps/demo/src/demo.config.js';
import { until } from '../support/wait.js';
import { DEMO_BACKENDS, SseClient, as, bootDemo, repeatUntil } from './demo-test-app.js';

const ADA = as('u-ada', 'acme');
const HANK = as('u-hank', 'globex');

describe.each(DEMO_BACKENDS)('demo app: users, crews and crew events ($name)', (driver) => {
  let app: INestApplication;
  let port: number;
  const sse: SseClient[] = [];

  beforeAll(async () => {
    ({ app, port } = await bootDemo(driver));
  });

  afterEach(() => {
    for (const client of sse.splice(0)) client.close();
  });

  afterAll(async () => {
    await app?.close();
  });

  const publish = (headers: Record<string, string>, crewId: string, body: unknown) =>
    request(app.getHttpServer()).post(`/crews/${crewId}/events`).set(headers).send(body as object);

  it('GET /health answers 200 without any header', async () => {
    const res = await request(app.getHttpServer()).get('/health').expect(200);
    expect(res.body.status).toBe('ok');
    // Status only for an anonymous caller: no driver, address or error text (issue #8 item 12).
    expect(res.body.details).toEqual({ coordination: { status: 'up' } });
    expect(res.headers['ratelimit-policy']).toBeUndefined();
  });

  it('GET /crews lists only the crews of the caller company', async () => {
    const acme = await request(app.getHttpServer()).get('/crews').set(ADA).expect(200);
    expect(acme.body.map((c: { id: string }) => c.id).sort()).toEqual(['market-research', 'support-triage']);
    expect(acme.body.every((c: { companyId: string }) => c.companyId === 'acme')).toBe(true);
  });

  it('rejects a user of another company (or of an unknown one) with 403', async () => {
    const res = await request(app.getHttpServer()).get('/crews').set(as('u-hank', 'acme')).expect(403);
    expect(res.body.message).toContain('u-hank');
    await request(app.getHttpServer()).get('/locks').set(as('u-hank', 'acme')).expect(403);
    await request(app.getHttpServer()).get('/crews').set(as('u-ada', 'umbrella')).expect(403);
  });

  it('rejects a request without a company with 400 E_TENANT_REQUIRED, and without a known user with 401', async () => {
    const missing = await request(app.getHttpServer()).get('/crews').set(USER_HEADER, 'u-ada').expect(400);
    expect(missing.body.code).toBe('E_TENANT_REQUIRED');
    // An HTTP caller is told which header to send, not the `{ tenant }` option of a service call.
    expect(missing.body.detail).toContain(`"${COMPANY_HEADER}" header`);
    expect(missing.body.detail).not.toContain('{ tenant }');
    const run = await request(app.getHttpServer()).post('/crews/market-research/runs').set(USER_HEADER, 'u-ada').expect(400);
    expect(run.body.code).toBe('E_TENANT_REQUIRED');
    const stream = await request(app.getHttpServer()).get('/crews/events/stream').expect(400);
    expect(stream.body.code).toBe('E_TENANT_REQUIRED');
    await request(app.getHttpServer()).get('/crews').set(COMPANY_HEADER, 'acme').expect(401);
    await request(app.getHttpServer()).get('/crews').set(as('u-nobody', 'acme')).expect(401);
  });

  it('rejects a malformed company id with 400', async () => {
    const res = await request(app.getHttpServer()).get('/crews').set(as('u-ada', 'acme*')).expect(400);
    expect(JSON.stringify(res.body)).toContain('E_TENANT_INVALID');
  });

  it('answers 404 for a crew of another company, even to publish to it', async () => {
    await publish(HANK, 'support-triage', { type: 'started' }).expect(404);
    await request(app.getHttpServer()).post('/crews/support-triage/runs?durationMs=0').set(HANK).expect(404);
  });

  it('publishes a crew event to subscribers of the same company only', async () => {
    const bus = app.get(EventBus);
    const acme: CoordinationEvent<CrewEventPayload>[] = [];
    const globex: CoordinationEvent<CrewEventPayload>[] = [];
    const acmeStream = bus.on<CrewEventPayload>('crew.*', { tenant: 'acme' });
    const globexStream = bus.on<CrewEventPayload>('crew.*', { tenant: 'globex' });
    const subscriptions = [acmeStream.subscribe((e) => acme.push(e)), globexStream.subscribe((e) => globex.push(e))];
    try {
      await Promise.all([acmeStream.ready(), globexStream.ready()]);

      const res = await publish(ADA, 'market-research', { type: 'started', data: { runId: 'r-9' } }).expect(202);
      expect(res.body).toEqual({ channel: 'crew.started', crewId: 'market-research', type: 'started' });
      // Published after acme's on the same ordered stream: once it arrives, acme's would have too.
      await publish(HANK, 'release-notes', { type: 'completed' }).expect(202);
      await until(() => acme.length >= 1 && globex.length >= 1, { timeoutMs: 5_000, message: 'both events' });

      expect(acme).toHaveLength(1);
      expect(acme[0]).toMatchObject({
        channel: 'crew.started', tenant: 'acme', payload: { crewId: 'market-research', type: 'started', data: { runId: 'r-9' } },
      });
      expect(globex).toHaveLength(1);
      expect(globex[0]).toMatchObject({ channel: 'crew.completed', tenant: 'globex', payload: { crewId: 'release-notes', data: {} } });
    } finally {
      for (const s of subscriptions) s.unsubscribe();
    }
  });

  it('streams the company crew events over SSE, and not those of another company', async () => {
    const acme = await SseClient.open(port, ADA);
    const globex = await SseClient.open(port, HANK);
    sse.push(acme, globex);
    expect(acme.status).toBe(200);
    expect(acme.contentType).toContain('text/event-stream');

    // Until globex's stream delivers, its subscription may not be confirmed yet.
    await repeatUntil(() => globex.events.length > 0, () => publish(HANK, 'release-notes', { type: 'message' }).expect(202), 'globex SSE');
    await repeatUntil(() => acme.events.length > 0, () => publish(ADA, 'support-triage', { type: 'progress', data: { step: 2 } }).expect(202), 'acme SSE');
    const seen = globex.events.length;
    await repeatUntil(() => globex.events.length > seen, () => publish(HANK, 'release-notes', { type: 'failed' }).expect(202), 'globex marker');

    expect(acme.events[0]).toMatchObject({ channel: 'crew.progress', crewId: 'support-triage', type: 'progress', data: { step: 2 } });
    expect(typeof acme.events[0].timestamp).toBe('number');
    expect(acme.events.every((e) => e.crewId === 'support-triage')).toBe(true);
    expect(globex.events.every((e) => e.crewId === 'release-notes')).toBe(true);
  });

  it('rejects an invalid event body with 400 and publishes nothing', async () => {
    const stream = app.get(EventBus).on<CrewEventPayload>('crew.*', { tenant: 'acme' });
    const received: CoordinationEvent<CrewEventPayload>[] = [];
    const subscription = stream.subscribe((e) => received.push(e));
    try {
      await stream.ready();
      // run.* types are published by runs only, never by a client.
      for (const body of [{}, { type: 'exploded' }, { type: 'run.completed' }, { type: 'started', data: 'not an object' }, { type: 'started', extra: true }]) {
        const res = await publish(ADA, 'market-research', body).expect(400);
        expect(JSON.stringify(res.body.message)).toMatch(/type|data|extra/);
      }
      // A valid marker afterwards: had a rejected body been published, it would arrive first.
      await publish(ADA, 'market-research', { type: 'message', data: { marker: true } }).expect(202);
      await until(() => received.length > 0, { timeoutMs: 5_000, message: 'the marker event' });
      expect(received.map((e) => e.payload.data)).toEqual([{ marker: true }]);
    } finally {
      subscription.unsubscribe();
    }
  });
});
