import type { INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import request from 'supertest';
import { testRedisUrl } from '../harness/env.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { DEMO_BACKENDS, SseClient, as, bootDemo, type SseMessage } from './demo-test-app.js';

const ADA = as('u-ada', 'acme');
const BOB = as('u-bob', 'acme');
const CLEO = as('u-cleo', 'acme');
const HANK = as('u-hank', 'globex');

describe.each(DEMO_BACKENDS)('demo app: limits of the crew event stream ($name)', (driver) => {
  let app: INestApplication;
  let port: number;
  const clients: SseClient[] = [];

  const open = async (headers: Record<string, string>): Promise<SseClient> => {
    const client = await SseClient.open(port, headers);
    clients.push(client);
    return client;
  };
  beforeAll(async () => {
    ({ app, port } = await bootDemo(driver, {
      configure: (config) => ({ ...config, streams: { ...config.streams, maxPerUser: 2, heartbeatMs: 50 } }),
    }));
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('caps the open streams of one user: 429 beyond the cap, other users unaffected, a slot frees on disconnect', async () => {
    const [a, b] = [await open(ADA), await open(ADA)];
    expect([a.status, b.status]).toEqual([200, 200]);

    const third = await open(ADA);
    expect(third.status).toBe(429);
    await third.whenEnded();
    expect(JSON.parse(third.body)).toMatchObject({ statusCode: 429, message: expect.stringContaining('2 open event streams') });
    expect((await open(BOB)).status).toBe(200);

    a.close();
    // The server learns of the disconnect asynchronously: retry until the slot is free again.
    await until(async () => (await open(ADA)).status === 200, { timeoutMs: 5_000, message: 'a slot to free after a disconnect' });
    expect((await open(ADA)).status).toBe(429);
  });

  it('sends a heartbeat comment at the configured interval', async () => {
    const client = await open(CLEO);
    expect(client.status).toBe(200);
    const comment = await until(() => client.comments[0], { timeoutMs: 5_000, message: 'a heartbeat comment' });
    expect(comment).toBe('heartbeat');
    // Comments are not events: the client sees none.
    expect(client.events).toEqual([]);
  });
});

describe.each(DEMO_BACKENDS)('demo app: the quota on posting crew events ($name)', (driver) => {
  let app: INestApplication;

  const publish = (headers: Record<string, string>, body: object) =>
    request(app.getHttpServer()).post('/crews/market-research/events').set(headers).send(body);

  beforeAll(async () => {
    // The burst of 20 refills at 1 an hour, not 10/s: however slowly the requests go, exactly the burst passes.
    ({ app } = await bootDemo(driver, {
      configure: (config) => ({ ...config, streams: { ...config.streams, publishQuota: { limit: 1, windowMs: 3_600_000, burst: 20 } } }),
    }));
  });

  afterAll(async () => {
    await app?.close();
  });

  it('limits publishing per user: 429 E_RATE_LIMITED once the burst is spent, other users go on', async () => {
    let denied: request.Response | undefined;
    let accepted = 0;
    for (let i = 0; i < 200 && !denied; i++) {
      const res = await publish(HANK, { type: 'progress' });
      if (res.status === 429) denied = res;
      else {
        expect(res.status).toBe(202);
        accepted += 1;
      }
    }
    expect(denied).toBeDefined();
    expect(accepted).toBeGreaterThanOrEqual(20);
    expect(accepted).toBe(20);
    expect(denied!.body).toMatchObject({ code: 'E_RATE_LIMITED', policy: 'crew-event-user' });
    expect(Number(denied!.headers['retry-after'])).toBeGreaterThan(0);
    await publish(ADA, { type: 'progress' }).expect(202);
  });
});

describe.each(DEMO_BACKENDS)('demo app: crew event streams at shutdown ($name)', (driver) => {
  it('ends every open stream when the app shuts down, heartbeats notwithstanding', async () => {
    const { app, port } = await bootDemo(driver, {
      configure: (config) => ({ ...config, streams: { ...config.streams, heartbeatMs: 50 } }),
    });
    const client = await SseClient.open(port, ADA);
    let closing: Promise<void> | undefined;
    try {
      await until(() => client.comments.length > 0, { timeoutMs: 5_000, message: 'a first heartbeat' });
      closing = app.close();
      await client.whenEnded('the stream to end at shutdown');
      expect(client.typed).toEqual([]);
    } finally {
      // A stream that did not end would hold up the close forever.
      client.close();
      await (closing ?? app.close());
    }
  });
});

describe.each(REDIS_DRIVERS.filter((d) => d.name === 'standalone'))('demo app: a crew event stream whose subscription fails ($name)', (driver) => {
  const user = uniquePrefix('sse');
  const prefix = uniquePrefix('demo');
  let admin: Redis;
  let app: INestApplication;
  let port: number;

  beforeAll(async () => {
    admin = new Redis(testRedisUrl());
    // Publishing and exact channels work, pattern subscriptions are refused (NOPERM): the
    // stream's PSUBSCRIBE fails on the real server, as it would after a lost connection
    // came back without it.
    await admin.call('ACL', 'SETUSER', user, 'on', '>secret', '~*', 'resetchannels', `&${prefix}:*`, '+@all');
    const url = new URL(testRedisUrl());
    url.username = user;
    url.password = 'secret';
    ({ app, port } = await bootDemo(driver, { prefix, redisUrl: url.toString() }));
  });

  afterAll(async () => {
    await app?.close();
    await admin?.call('ACL', 'DELUSER', user);
    admin?.disconnect();
  });

  it('ends the stream with an `event: error` naming the failure, and frees its slot', async () => {
    const client = await SseClient.open(port, ADA);
    try {
      expect(client.status).toBe(200);
      await client.whenEnded('the stream to end after its error');
      expect(client.typed).toEqual<SseMessage[]>([{ type: 'error', data: { code: 'E_STREAM_LOST', detail: expect.stringContaining('reconnect') } }]);
      expect(client.events).toEqual([]);
    } finally {
      client.close();
    }
    // Publishing is unaffected, and the failed streams do not hold the user's slots.
    await request(app.getHttpServer()).post('/crews/market-research/events').set(ADA).send({ type: 'progress' }).expect(202);
    for (let i = 0; i < 6; i++) {
      const again = await SseClient.open(port, ADA);
      await again.whenEnded();
      expect(again.status).toBe(200);
    }
  });
});
