import { get, type ClientRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { EventBus, type CoordinationEvent } from '@nest-coordination/core';
import request from 'supertest';
import { AppModule } from '../../apps/demo/src/app.module.js';
import type { CrewEventPayload } from '../../apps/demo/src/crews/crew.model.js';
import { COMPANY_HEADER, demoConfigFromEnv } from '../../apps/demo/src/demo.config.js';
import { testRedisUrl } from '../harness/env.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Repeats `action` until `done()` holds: pub/sub keeps no history, so a first publish may precede the subscription. */
async function repeatUntil(done: () => boolean, action: () => Promise<unknown>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    await action();
    for (let i = 0; i < 10 && !done(); i++) await sleep(10);
    if (done()) return;
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** A raw SSE client: collects the `data:` of every event until closed. */
class SseClient {
  readonly events: Array<Record<string, unknown>> = [];
  private constructor(private readonly req: ClientRequest, readonly status: number, readonly contentType: string) {}

  static open(port: number, companyId: string): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = get(
        { host: '127.0.0.1', port, path: '/crews/events/stream', headers: { [COMPANY_HEADER]: companyId, accept: 'text/event-stream' } },
        (res) => {
          const client = new SseClient(req, res.statusCode ?? 0, String(res.headers['content-type']));
          let buffer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffer += chunk;
            let end: number;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const data = block.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim());
              if (data.length > 0) client.events.push(JSON.parse(data.join('\n')));
            }
          });
          res.on('error', () => undefined); // aborted by close()
          resolve(client);
        },
      );
      req.on('error', reject);
    });
  }

  close(): void {
    this.req.destroy();
  }
}

const BACKENDS = DRIVERS.filter((d) => d.name !== 'cluster');

describe.each(BACKENDS)('demo app ($name)', (driver) => {
  let app: INestApplication;
  let port: number;
  const sse: SseClient[] = [];

  beforeAll(async () => {
    const env = driver.name === 'memory' ? {} : { REDIS_URL: testRedisUrl() };
    const config = demoConfigFromEnv({ ...env, COORD_KEY_PREFIX: uniquePrefix('demo') });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(config)] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
  });

  afterEach(() => {
    for (const client of sse.splice(0)) client.close();
  });

  afterAll(async () => {
    await app?.close();
  });

  const publish = (companyId: string, crewId: string, body: unknown) =>
    request(app.getHttpServer()).post(`/crews/${crewId}/events`).set(COMPANY_HEADER, companyId).send(body as object);

  it('GET /health answers 200 without a company header', async () => {
    const res = await request(app.getHttpServer()).get('/health').expect(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.details.coordination.driver).toBe(driver.name === 'memory' ? 'memory' : 'redis');
  });

  it('GET /crews lists only the crews of the company in the header', async () => {
    const acme = await request(app.getHttpServer()).get('/crews').set(COMPANY_HEADER, 'acme').expect(200);
    expect(acme.body.map((c: { id: string }) => c.id).sort()).toEqual(['market-research', 'support-triage']);
    expect(acme.body.every((c: { companyId: string }) => c.companyId === 'acme')).toBe(true);
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

      const res = await publish('acme', 'market-research', { type: 'started', data: { runId: 'r-9' } }).expect(202);
      expect(res.body).toEqual({ channel: 'crew.started', crewId: 'market-research', type: 'started' });
      // Published after acme's on the same ordered stream: once it arrives, acme's would have too.
      await publish('globex', 'release-notes', { type: 'completed' }).expect(202);
      await repeatUntil(() => acme.length >= 1 && globex.length >= 1, async () => undefined, 'both events');

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
    const acme = await SseClient.open(port, 'acme');
    const globex = await SseClient.open(port, 'globex');
    sse.push(acme, globex);
    expect(acme.status).toBe(200);
    expect(acme.contentType).toContain('text/event-stream');

    // Until globex's stream delivers, its subscription may not be confirmed yet.
    await repeatUntil(() => globex.events.length > 0, () => publish('globex', 'release-notes', { type: 'message' }).expect(202), 'globex SSE');
    await repeatUntil(() => acme.events.length > 0, () => publish('acme', 'support-triage', { type: 'progress', data: { step: 2 } }).expect(202), 'acme SSE');
    const seen = globex.events.length;
    await repeatUntil(() => globex.events.length > seen, () => publish('globex', 'release-notes', { type: 'failed' }).expect(202), 'globex marker');

    expect(acme.events[0]).toMatchObject({ channel: 'crew.progress', crewId: 'support-triage', type: 'progress', data: { step: 2 } });
    expect(typeof acme.events[0].timestamp).toBe('number');
    expect(acme.events.every((e) => e.crewId === 'support-triage')).toBe(true);
    expect(globex.events.every((e) => e.crewId === 'release-notes')).toBe(true);
  });

  it('rejects an invalid body with 400 and publishes nothing', async () => {
    const stream = app.get(EventBus).on<CrewEventPayload>('crew.*', { tenant: 'acme' });
    const received: CoordinationEvent<CrewEventPayload>[] = [];
    const subscription = stream.subscribe((e) => received.push(e));
    try {
      await stream.ready();
      for (const body of [{}, { type: 'exploded' }, { type: 'started', data: 'not an object' }, { type: 'started', extra: true }]) {
        const res = await publish('acme', 'market-research', body).expect(400);
        expect(JSON.stringify(res.body.message)).toMatch(/type|data|extra/);
      }
      // A valid marker afterwards: had a rejected body been published, it would arrive first.
      await publish('acme', 'market-research', { type: 'message', data: { marker: true } }).expect(202);
      await repeatUntil(() => received.length > 0, async () => undefined, 'the marker event');
      expect(received.map((e) => e.payload.data)).toEqual([{ marker: true }]);
    } finally {
      subscription.unsubscribe();
    }
  });

  it('rejects crew routes without a company header with 400, and unknown companies or crews with 404', async () => {
    const missing = await request(app.getHttpServer()).post('/crews/market-research/events').send({ type: 'started' }).expect(400);
    expect(missing.body.code).toBe('E_TENANT_REQUIRED');
    const stream = await request(app.getHttpServer()).get('/crews/events/stream').expect(400);
    expect(stream.body.code).toBe('E_TENANT_REQUIRED');
    await request(app.getHttpServer()).get('/crews').set(COMPANY_HEADER, 'umbrella').expect(404);
    // A crew of another company is not visible, not even to publish to.
    await publish('globex', 'market-research', { type: 'started' }).expect(404);
  });

  it('rejects a malformed company id with 400', async () => {
    const res = await request(app.getHttpServer()).get('/crews').set(COMPANY_HEADER, 'acme*').expect(400);
    expect(JSON.stringify(res.body)).toContain('E_TENANT_INVALID');
  });
});
