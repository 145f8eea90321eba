import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { RedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { CoordinationModule, SessionService } from '@nest-coordination/core';
import type { BenchCase, BenchContext, BenchGroupOptions, CaseInstance } from '../harness/types.js';

const CREATE = 'sessions: create (~300 B of session data)';
const GET = 'sessions: get (1000 live sessions)';
const UPDATE = 'sessions: update one field (1000 live sessions)';

const OURS_CREATE = 'nest-coordination SessionService.create';
const OURS_GET = 'nest-coordination SessionService.get (sliding expiry)';
const OURS_GET_FIXED = 'nest-coordination SessionService.get (touch: false)';
const OURS_UPDATE = 'nest-coordination SessionService.update (one field)';
const CONNECT_SET = 'connect-redis 9 set (whole session)';
const CONNECT_GET = 'connect-redis 9 get (no sliding)';
const RAW_GET = 'raw ioredis GET + JSON.parse of the connect-redis value (the client ceiling)';

const LIVE = 1000;
const TTL_MS = 86_400_000;

/** The application's part of a session: the same in both stores. */
const data = () => ({ theme: 'dark', locale: 'en-GB', cart: ['sku-1042', 'sku-2210'], flags: { beta: true, tour: 3 } });
const metadata = { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) bench', ip: '203.0.113.7', method: 'password' };

/** What express-session hands connect-redis for the same session: its cookie plus the same fields. */
function expressSession(user: string): SessionData {
  return {
    cookie: { originalMaxAge: TTL_MS, expires: new Date(Date.now() + TTL_MS), httpOnly: true, path: '/', secure: true, sameSite: 'lax' },
    userId: user, companyId: 'acme', crewId: 'crew-7', lastActivity: new Date().toISOString(), metadata, ...data(),
  } as unknown as SessionData;
}

async function ourApp(ctx: BenchContext): Promise<INestApplicationContext> {
  Logger.overrideLogger(['error']);
  return NestFactory.createApplicationContext(
    CoordinationModule.forRoot({ connection: { url: ctx.redisUrl }, prefix: 'benchsess', health: { pingIntervalMs: 0 }, sessions: { pruneIntervalMs: 0 } }),
    { logger: ['error'] },
  );
}

const create = (sessions: SessionService, user: string) =>
  sessions.create(user, data(), { tenant: 'acme', companyId: 'acme', crewId: 'crew-7', metadata });

/** Ours: `LIVE` sessions made up front (one user each), then `op` on session `i % LIVE`. */
function ours(name: string, group: string, op: (sessions: SessionService, id: string, i: number) => Promise<unknown>): BenchCase {
  return {
    name,
    group,
    async setup(ctx) {
      const app = await ourApp(ctx);
      const sessions = app.get(SessionService);
      const ids: string[] = [];
      for (let i = 0; i < LIVE; i++) ids.push((await create(sessions, `user-${name.length}-${i}`)).id);
      if (group === GET) await reportBytes(ctx, name, 'benchsess:acme:session:*', 'benchsess:acme:session-user:*');
      return { op: async (i) => void (await op(sessions, ids[i % LIVE], i)), teardown: () => app.close() };
    },
  };
}

/** connect-redis on its own client (node-redis 5, as it requires), `LIVE` sessions made up front. */
function connectRedis(name: string, group: string, op: (store: RedisStore, sid: string, i: number) => Promise<unknown>): BenchCase {
  return {
    name,
    group,
    baseline: true,
    async setup(ctx) {
      const client = createClient({ url: ctx.redisUrl });
      await client.connect();
      const store = new RedisStore({ client, prefix: 'cr:' });
      const sids = Array.from({ length: LIVE }, () => randomBytes(24).toString('base64url'));
      for (let i = 0; i < LIVE; i++) await store.set(sids[i], expressSession(`user-${i}`));
      if (group === GET) await reportBytes(ctx, name, 'cr:*');
      const instance: CaseInstance = {
        op: async (i) => void (await op(store, sids[i % LIVE], i)),
        teardown: async () => void (await client.quit()),
      };
      return instance;
    },
  };
}

/** Prints the average MEMORY USAGE per session of the records matching `sessionPattern`, and with the keys of `indexPattern` (per-user indexes) added. */
async function reportBytes(ctx: BenchContext, who: string, sessionPattern: string, indexPattern?: string): Promise<void> {
  const redis = new Redis(ctx.redisUrl);
  const usage = async (pattern: string): Promise<{ bytes: number; keys: number }> => {
    let bytes = 0;
    let keys = 0;
    for await (const batch of redis.scanStream({ match: pattern, count: 500 })) {
      for (const key of batch as string[]) {
        bytes += Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
        keys++;
      }
    }
    return { bytes, keys };
  };
  try {
    const records = await usage(sessionPattern);
    const index = indexPattern ? await usage(indexPattern) : { bytes: 0, keys: 0 };
    const perSession = (bytes: number) => Math.round(bytes / records.keys);
    const withIndex = indexPattern ? `; ${perSession(records.bytes + index.bytes)} with the per-user index (${index.keys} users)` : '';
    console.log(`  ${who}: ${perSession(records.bytes)} bytes in Redis per session record (${records.keys} sessions)${withIndex}`);
  } finally {
    redis.disconnect();
  }
}

/** What ioredis itself does for connect-redis's read (GET + JSON.parse): the most a library on ioredis can reach. */
const rawGet: BenchCase = {
  name: RAW_GET,
  group: GET,
  baseline: true,
  async setup(ctx) {
    const redis = new Redis(ctx.redisUrl, { lazyConnect: true, enableAutoPipelining: true, commandTimeout: 5_000 });
    await redis.connect();
    for (let i = 0; i < LIVE; i++) await redis.set(`raw:${i}`, JSON.stringify(expressSession(`user-${i}`)), 'PX', TTL_MS);
    return {
      async op(i) {
        const text = await redis.get(`raw:${i % LIVE}`);
        if (text === null || !JSON.parse(text)) throw new Error('raw miss');
      },
      teardown: async () => void (await redis.quit()),
    };
  },
};

export const cases: BenchCase[] = [
  {
    name: OURS_CREATE,
    group: CREATE,
    async setup(ctx) {
      const app = await ourApp(ctx);
      const sessions = app.get(SessionService);
      const run = randomBytes(4).toString('hex');
      return { op: async (i) => void (await create(sessions, `new-${run}-${i}`)), teardown: () => app.close() };
    },
  },
  connectRedis(CONNECT_SET, CREATE, (store, _sid, i) => store.set(randomBytes(24).toString('base64url'), expressSession(`new-${i}`))),
  ours(OURS_GET, GET, async (sessions, id) => {
    if ((await sessions.get(id)) === null) throw new Error('session miss');
  }),
  ours(OURS_GET_FIXED, GET, async (sessions, id) => {
    if ((await sessions.get(id, { touch: false })) === null) throw new Error('session miss');
  }),
  connectRedis(CONNECT_GET, GET, async (store, sid) => {
    if (!(await store.get(sid))) throw new Error('connect-redis miss');
  }),
  rawGet,
  ours(OURS_UPDATE, UPDATE, (sessions, id, i) => sessions.update(id, { theme: i % 2 ? 'dark' : 'light' })),
  // express-session writes the whole session back when a request changed it.
  connectRedis(CONNECT_SET, UPDATE, (store, sid, i) => store.set(sid, { ...expressSession('user'), theme: i % 2 ? 'dark' : 'light' } as SessionData)),
];

export const groups: BenchGroupOptions[] = [
  {
    name: GET,
    targets: [
      { case: OURS_GET, versus: CONNECT_GET, atLeast: 0.9 },
      { case: OURS_GET, versus: RAW_GET, atLeast: 0.9 },
    ],
  },
];
