import type { INestApplication } from '@nestjs/common';
import { LockService } from '@nest-coordination/core';
import { io, type Socket } from 'socket.io-client';
import request from 'supertest';
import type { CrewSocketEvent } from '../../apps/demo/src/crews/crew-events.gateway.js';
import { until } from '../support/wait.js';
import { ADA_LOGIN, sessionSetCookie } from './demo-login-support.js';
import { DEMO_BACKENDS, as, bootDemo, repeatUntil } from './demo-test-app.js';

// The demo's socket.io namespace `/crews`: `crew.subscribe` under the demo's guards and the
// library's limits, crew events per company, the crew's run read from its lock.

// Each test acts as its own user where it can: per-user quotas are shared by the whole file.
const ADA = as('u-ada', 'acme');
const BOB = as('u-bob', 'acme');
const CLEO = as('u-cleo', 'acme');
const HANK = as('u-hank', 'globex');

type Answer = { ack: unknown } | { exception: Record<string, unknown> };

describe.each(DEMO_BACKENDS)('demo app: the /crews socket.io namespace ($name)', (driver) => {
  let app: INestApplication;
  let port: number;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    ({ app, port } = await bootDemo(driver));
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.disconnect();
  });

  afterAll(async () => {
    await app?.close();
  });

  async function connect(headers: Record<string, string>): Promise<Socket> {
    const socket = io(`http://127.0.0.1:${port}/crews`, { transports: ['websocket'], extraHeaders: headers, reconnection: false });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return socket;
  }

  /** One message, answered by its acknowledgement or by the `exception` event of a refusal; fails after 15 s. */
  function ask(socket: Socket, event: string, data: unknown): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const onException = (exception: Record<string, unknown>) => {
        clearTimeout(timer);
        resolve({ exception });
      };
      const timer = setTimeout(() => {
        socket.off('exception', onException);
        reject(new Error(`timed out after 15000 ms waiting for an answer to ${event}`));
      }, 15_000);
      socket.once('exception', onException);
      socket.emit(event, data, (ack: unknown) => {
        clearTimeout(timer);
        socket.off('exception', onException);
        resolve({ ack });
      });
    });
  }

  const publish = (headers: Record<string, string>, crewId: string, step: number) =>
    request(app.getHttpServer()).post(`/crews/${crewId}/events`).set(headers).send({ type: 'progress', data: { step } }).expect(202);

  it("crew.subscribe: the crew's events reach its subscribers, from its own company only", async () => {
    const ada = await connect(ADA);
    const hank = await connect(HANK);
    expect(await ask(ada, 'crew.subscribe', { crewId: 'market-research' })).toEqual({ ack: { crewId: 'market-research', running: null } });
    // Globex has a crew of the same name: another tenant, another room.
    expect(await ask(hank, 'crew.subscribe', { crewId: 'market-research' })).toEqual({ ack: { crewId: 'market-research', running: null } });
    const adaEvents: CrewSocketEvent[] = [];
    const hankEvents: CrewSocketEvent[] = [];
    ada.on('crew.event', (event: CrewSocketEvent) => adaEvents.push(event));
    hank.on('crew.event', (event: CrewSocketEvent) => hankEvents.push(event));

    // Pub/sub keeps no history: publish until the feed's subscription is live.
    let step = 0;
    await repeatUntil(() => adaEvents.length > 0, () => publish(BOB, 'market-research', ++step), "acme's event on Ada's socket");
    expect(adaEvents[0]).toMatchObject({ channel: 'crew.progress', crewId: 'market-research', type: 'progress', data: { step: 1 } });
    await repeatUntil(() => hankEvents.length > 0, () => publish(HANK, 'market-research', 100), "globex's event on Hank's socket");
    expect(hankEvents.every((event) => (event.data as { step: number }).step === 100)).toBe(true);
    expect(adaEvents.every((event) => (event.data as { step: number }).step < 100)).toBe(true);
  });

  it("crew.subscribe says whether the crew runs anywhere, from its lock's holder", async () => {
    const locks = app.get(LockService);
    const lock = await locks.acquire('crew-run:support-triage', { tenant: 'acme', ttlMs: 30_000 });
    try {
      const socket = await connect(CLEO);
      const answer = await ask(socket, 'crew.subscribe', { crewId: 'support-triage' });
      expect(answer).toEqual({ ack: { crewId: 'support-triage', running: { fencingToken: lock.fencingToken, expiresInMs: expect.any(Number) } } });
    } finally {
      await lock.release();
    }
  });

  it('crew.subscribe over the user quota (30 a minute): the exception event with E_RATE_LIMITED and the retry time', async () => {
    const socket = await connect(BOB);
    for (let i = 0; i < 30; i++) expect(await ask(socket, 'crew.subscribe', { crewId: 'market-research' })).toMatchObject({ ack: { crewId: 'market-research' } });
    const denied = await ask(socket, 'crew.subscribe', { crewId: 'market-research' });
    expect(denied).toEqual({
      exception: {
        status: 'error', code: 'E_RATE_LIMITED', message: expect.any(String), policy: 'crew-subscribe-user', limit: 30,
        retryAfterMs: expect.any(Number), retryAfterSeconds: expect.any(Number), source: driver.name === 'memory' ? 'memory' : 'redis',
      },
    });
    // Another user of the company is not held back.
    expect(await ask(await connect(CLEO), 'crew.subscribe', { crewId: 'market-research' })).toMatchObject({ ack: { crewId: 'market-research' } });
  });

  it('refuses messages without credentials, of a user outside the company, or naming a foreign or malformed crew', async () => {
    expect(await ask(await connect({ 'x-user-id': 'u-ada' }), 'crew.subscribe', { crewId: 'market-research' })).toMatchObject({ exception: { code: 'E_TENANT_REQUIRED' } });
    expect(await ask(await connect({ 'x-company-id': 'acme' }), 'crew.subscribe', { crewId: 'market-research' })).toMatchObject({ exception: { code: 'UNAUTHENTICATED' } });
    expect(await ask(await connect(as('u-hank', 'acme')), 'crew.subscribe', { crewId: 'market-research' })).toMatchObject({ exception: { code: 'FORBIDDEN' } });
    const ada = await connect(ADA);
    expect(await ask(ada, 'crew.subscribe', { crewId: 'release-notes' })).toMatchObject({ exception: { code: 'NOT_FOUND' } });
    expect(await ask(ada, 'crew.subscribe', { crewId: 'a*' })).toMatchObject({ exception: { code: 'BAD_REQUEST' } });
  });

  it('a cookie socket answers messages sent without waiting for each answer: every one is authenticated', async () => {
    const login = await request(app.getHttpServer()).post('/auth/login').set('content-type', 'application/json').send({ userId: 'u-hank', companyId: 'globex' }).expect(201);
    const socket = await connect({ cookie: sessionSetCookie(login)!.split(';')[0] });
    const acks: unknown[] = [];
    const exceptions: unknown[] = [];
    socket.on('exception', (exception: unknown) => exceptions.push(exception));
    // Spread over a few event-loop turns, so that a message arrives while an earlier one is between its guards.
    for (let i = 0; i < 20; i++) {
      socket.emit('crew.subscribe', { crewId: 'market-research' }, (ack: unknown) => acks.push(ack));
      for (let turn = 0; turn <= i % 4; turn++) await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => acks.length + exceptions.length === 20, { timeoutMs: 15_000, message: '20 answers' });
    expect(exceptions).toEqual([]);
    expect(acks).toHaveLength(20);
  });

  it('a socket with a session cookie acts in the session\'s company, until the session ends', async () => {
    const login = await request(app.getHttpServer()).post('/auth/login').set('content-type', 'application/json').send(ADA_LOGIN).expect(201);
    const cookie = sessionSetCookie(login)!.split(';')[0];
    const socket = await connect({ cookie });
    expect(await ask(socket, 'crew.subscribe', { crewId: 'support-triage' })).toMatchObject({ ack: { crewId: 'support-triage' } });
    await request(app.getHttpServer()).post('/auth/logout').set('cookie', cookie).expect(204);
    // Checked for every message: the ended session no longer lets the socket's messages in.
    const refused = await until(async () => {
      const answer = await ask(socket, 'crew.unsubscribe', { crewId: 'support-triage' });
      return 'exception' in answer ? answer : undefined;
    }, { timeoutMs: 10_000, message: 'a message of the logged-out socket to be refused' });
    expect(refused.exception).toMatchObject({ code: 'E_SESSION_NOT_FOUND' });
  });
});
