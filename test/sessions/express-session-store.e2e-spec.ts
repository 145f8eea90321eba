import 'reflect-metadata';
import { promisify } from 'node:util';
import { Controller, Get, Module, Post, Req, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import session from 'express-session';
import request from 'supertest';
import {
  CoordinationExceptionFilter, InvalidArgumentError, InvalidKeyError, ManualClock, SessionRecords, type CoordinationModuleOptions,
} from '@nest-coordination/core';
import { CoordinationSessionStore } from '@nest-coordination/core/express-session';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootApp, bootModule, type BootedApp } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';
import { rejectionOf, until } from '../support/wait.js';

/** What the routes keep in `req.session`. */
interface Counter { count?: number }
type SessionRequest = { session: session.Session & Partial<session.SessionData> & Counter; sessionID: string };

const MAX_AGE_MS = 60_000;

@Controller()
class CounterController {
  /** Modifies the session: express-session saves it (`set`). */
  @Get(':tenant/count')
  count(@Req() req: SessionRequest) {
    req.session.count = (req.session.count ?? 0) + 1;
    return { count: req.session.count, sid: req.sessionID };
  }

  /** Reads without modifying: with `resave: false`, express-session calls the store's `touch`. */
  @Get(':tenant/peek')
  peek(@Req() req: SessionRequest) {
    return { count: req.session.count ?? 0, sid: req.sessionID };
  }

  @Post(':tenant/logout')
  async logout(@Req() req: SessionRequest) {
    await promisify(req.session.destroy.bind(req.session))();
    return { ok: true };
  }
}

/**
 * The real express-session middleware, one per tenant path (`/acme`, `/globex`), each over a
 * CoordinationSessionStore of its tenant, in front of a Nest controller.
 */
async function bootSessionApp(options: CoordinationModuleOptions): Promise<BootedApp & { stores: Record<string, CoordinationSessionStore> }> {
  const stores: Record<string, CoordinationSessionStore> = {};
  const booted = await bootApp(
    { health: { pingIntervalMs: 0 }, ...options, sessions: { pruneIntervalMs: 0 } },
    {
      controllers: [CounterController],
      configure: (app) => {
        app.useGlobalFilters(new CoordinationExceptionFilter());
        for (const tenant of ['acme', 'globex']) {
          stores[tenant] = new CoordinationSessionStore(app.get(SessionRecords), { tenant });
          app.use(`/${tenant}`, session({
            store: stores[tenant], secret: 'express-session-secret', resave: false, saveUninitialized: false, rolling: true,
            cookie: { maxAge: MAX_AGE_MS, secure: false },
          }));
        }
      },
    },
  );
  return Object.assign(booted, { stores });
}

const lengthOf = (store: CoordinationSessionStore) => promisify(store.length.bind(store))();
const allOf = (store: CoordinationSessionStore) => promisify(store.all.bind(store))() as unknown as Promise<Array<Counter & { id: string }>>;
const clear = (store: CoordinationSessionStore) => promisify(store.clear.bind(store))();

describe.each(DRIVERS)('CoordinationSessionStore under the real express-session ($name)', (driver) => {
  let booted: Awaited<ReturnType<typeof bootSessionApp>>;
  let http: ReturnType<BootedApp['app']['getHttpServer']>;
  const clock = new ManualClock(Date.now());
  const records = () => booted.get(SessionRecords);
  const keyOf = (tenant: string, sid: string) => `${booted.core.keys.prefix}:${tenant}:session-record:{${sid}}`;

  beforeAll(async () => {
    // The memory driver runs on a clock the test moves; Redis expires on the server's clock.
    booted = await bootSessionApp({ ...driver.options(), ...(driver.name === 'memory' ? { clock } : {}) });
    http = booted.app.getHttpServer();
  });
  afterAll(() => booted.close());
  beforeEach(async () => {
    await clear(booted.stores.acme);
    await clear(booted.stores.globex);
  });

  it('a counter in req.session survives requests, stored under the tenant\'s key with its Dates intact', async () => {
    const agent = request.agent(http);
    const counts = [];
    for (let i = 0; i < 3; i++) counts.push((await agent.get('/acme/count').expect(200)).body.count);
    expect(counts).toEqual([1, 2, 3]);
    const { sid } = (await agent.get('/acme/peek').expect(200)).body;
    const stored = await records().get<Counter & { cookie: { expires: unknown } }>(sid, { tenant: 'acme' });
    expect(stored).toMatchObject({ count: 3 });
    expect(stored!.cookie.expires).toBeInstanceOf(Date);
    if (driver.name !== 'memory') expect(await scanKeys(booted.core, `${booted.core.keys.prefix}:*`)).toEqual([keyOf('acme', sid)]);
  });

  it('destroy ends the session: the record is gone and the next request starts a new one', async () => {
    const agent = request.agent(http);
    await agent.get('/acme/count').expect(200);
    const { sid } = (await agent.get('/acme/count').expect(200)).body;
    await agent.post('/acme/logout').expect(201);
    expect(await records().get(sid, { tenant: 'acme' })).toBeUndefined();
    const next = (await agent.get('/acme/count').expect(200)).body;
    expect(next.count).toBe(1);
    expect(next.sid).not.toBe(sid);
  });

  it('touch (a request that only reads, rolling) restarts the session\'s lifetime', async () => {
    const agent = request.agent(http);
    const { sid } = (await agent.get('/acme/count').expect(200)).body;
    const client = booted.core.connection?.client;
    // Most of the 60 s lifetime passes: on the memory clock, or by cutting the Redis TTL to 10 s.
    if (client) await client.pexpire(keyOf('acme', sid), 10_000);
    else clock.advance(50_000);
    expect((await agent.get('/acme/peek').expect(200)).body).toEqual({ count: 1, sid });
    if (client) {
      // express-session sends the response before the touch completes.
      await until(async () => (await client.pttl(keyOf('acme', sid))) > 10_000, { timeoutMs: 5_000, message: 'the touch to restore the 60 s TTL' });
    } else {
      // 100 s after the write: alive only because the touch restarted the 60 s lifetime (the memory store touches synchronously).
      clock.advance(50_000);
    }
    expect((await agent.get('/acme/count').expect(200)).body).toEqual({ count: 2, sid });
  });

  it('length, all and clear see exactly the tenant\'s sessions', async () => {
    const [ada, grace, other] = [request.agent(http), request.agent(http), request.agent(http)];
    const adaSid = (await ada.get('/acme/count').expect(200)).body.sid;
    await ada.get('/acme/count').expect(200);
    const graceSid = (await grace.get('/acme/count').expect(200)).body.sid;
    const otherSid = (await other.get('/globex/count').expect(200)).body.sid;
    expect(await lengthOf(booted.stores.acme)).toBe(2);
    const all = await allOf(booted.stores.acme);
    expect(all.map(({ id, count }) => ({ id, count })).sort((a, b) => a.count! - b.count!)).toEqual([{ id: graceSid, count: 1 }, { id: adaSid, count: 2 }]);

    await clear(booted.stores.acme);
    expect(await lengthOf(booted.stores.acme)).toBe(0);
    expect((await ada.get('/acme/count').expect(200)).body.count).toBe(1);
    // The other tenant's session was neither counted nor cleared.
    expect(await lengthOf(booted.stores.globex)).toBe(1);
    expect((await other.get('/globex/count').expect(200)).body).toEqual({ count: 2, sid: otherSid });
  });

  it('two stores of two tenants are isolated: one tenant\'s session id is unknown to the other', async () => {
    const agent = request.agent(http);
    await agent.get('/acme/count').expect(200);
    const { sid } = (await agent.get('/acme/count').expect(200)).body;
    // The agent sends the same cookie (same name and secret, path /) to the globex store: not found there, a new session.
    expect(await records().get(sid, { tenant: 'globex' })).toBeUndefined();
    const foreign = (await agent.get('/globex/count').expect(200)).body;
    expect(foreign.count).toBe(1);
    expect(foreign.sid).not.toBe(sid);
    expect(await records().get<Counter>(sid, { tenant: 'acme' })).toMatchObject({ count: 2 });
  });
});

describe('SessionRecords (memory)', () => {
  it('round-trips values through the serializer, and refuses sids a key would have to encode without echoing them', async () => {
    const booted = await bootModule({ driver: 'memory', health: { pingIntervalMs: 0 }, sessions: { pruneIntervalMs: 0 } });
    try {
      const records = booted.get(SessionRecords);
      const value = { at: new Date(5), seen: new Map([['a', 1]]) };
      await records.set('sid-1', value, { tenant: 'acme', ttlMs: 60_000 });
      expect(await records.get('sid-1', { tenant: 'acme' })).toEqual(value);
      expect(await records.touch('sid-1', { tenant: 'acme' })).toBe(true);
      expect(await records.touch('sid-2', { tenant: 'acme' })).toBe(false);
      expect(await records.delete(['sid-1', 'sid-2'], { tenant: 'acme' })).toBe(1);
      for (const sid of ['se:cret', 'se*cret', 'se{cret}', 'se cret', '', 'x'.repeat(513), 42]) {
        const error = await rejectionOf(records.get(sid as string, { tenant: 'acme' }));
        expect(error).toBeInstanceOf(InvalidKeyError);
        if (typeof sid === 'string' && sid.length > 0) expect((error as Error).message).not.toContain('cret');
      }
      for (const ttlMs of [0, 1.5, Number.NaN, 366 * 86_400_000]) {
        expect(await rejectionOf(records.set('sid-1', 1, { tenant: 'acme', ttlMs }))).toBeInstanceOf(InvalidArgumentError);
      }
    } finally {
      await booted.close();
    }
  });
});

/** express-session as a Nest middleware of a module imported after CoordinationModule: it runs after TenantMiddleware. */
@Module({ controllers: [CounterController] })
class ContextSessionModule implements NestModule {
  constructor(private readonly records: SessionRecords) {}

  configure(consumer: MiddlewareConsumer): void {
    const store = new CoordinationSessionStore(this.records);
    consumer.apply(session({ store, secret: 'express-session-secret', resave: false, saveUninitialized: false, cookie: { secure: false } })).forRoutes('ctx/{*path}');
  }
}

describe('CoordinationSessionStore without a tenant option', () => {
  it('stores each session in the tenant of the request\'s context (TenantMiddleware, from the header)', async () => {
    const booted = await bootApp({ ...DRIVERS[1].options(), health: { pingIntervalMs: 0 }, sessions: { pruneIntervalMs: 0 } }, { imports: [ContextSessionModule] });
    try {
      const records = booted.get(SessionRecords);
      const agent = request.agent(booted.app.getHttpServer());
      await agent.get('/ctx/count').set('x-tenant-id', 'initech').expect(200);
      const { sid } = (await agent.get('/ctx/count').set('x-tenant-id', 'initech').expect(200)).body;
      expect(await records.get(sid, { tenant: 'initech' })).toMatchObject({ count: 2 });
      expect(await records.count({ tenant: 'initech' })).toBe(1);
      // Another tenant's request with the same cookie does not find it.
      expect((await agent.get('/ctx/count').set('x-tenant-id', 'globex').expect(200)).body.count).toBe(1);
      expect(await records.get(sid, { tenant: 'initech' })).toMatchObject({ count: 2 });
    } finally {
      await booted.close();
    }
  });
});

describe('CoordinationSessionStore while Redis is unreachable', () => {
  let server: RedisServerHandle;
  let booted: Awaited<ReturnType<typeof bootSessionApp>>;

  beforeAll(async () => {
    server = await startRedisServer();
    booted = await bootSessionApp({ connection: { url: server.url, commandTimeoutMs: 1_000, connectTimeoutMs: 2_000 }, reconnect: { baseDelayMs: 50, maxDelayMs: 200 } });
  });
  afterAll(async () => {
    await booted.close();
    await server.stop();
  });

  it('express-session passes the store\'s error on: 503, never a new empty session', async () => {
    const agent = request.agent(booted.app.getHttpServer());
    await agent.get('/acme/count').expect(200);
    expect((await agent.get('/acme/count').expect(200)).body.count).toBe(2);
    await server.kill();
    const failed = await agent.get('/acme/count');
    // With CoordinationExceptionFilter global, the error express-session hands to next() is the store's 503.
    expect(failed.status).toBe(503);
    expect(failed.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(['E_REDIS_UNAVAILABLE', 'E_CIRCUIT_OPEN']).toContain(failed.body.code);
    expect(failed.headers['set-cookie']).toBeUndefined();
    expect(failed.text).not.toContain('"count"');
  });
});
