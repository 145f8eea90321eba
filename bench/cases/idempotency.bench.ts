import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Idempotency } from '@node-idempotency/core';
import { RedisStorageAdapter } from '@node-idempotency/storage-adapter-redis';
import { Redis } from 'ioredis';
import { CoordinationModule, IdempotencyService } from '@nest-coordination/core';
import type { BenchCase, BenchContext } from '../harness/types.js';

const FIRST = 'idempotency: first request (check-and-lock, run, store the response)';
const REPLAY = 'idempotency: replayed request (1000 stored responses)';

const OURS = 'nest-coordination IdempotencyService.run';
const PEER = '@node-idempotency/core 1.0 onRequest + onResponse (node-redis 4)';
const RAW = 'raw ioredis SET NX GET + SET (first) / SET NX GET + JSON.parse (replay): the client ceiling';

const STORED = 1000;
const TTL_MS = 86_400_000;

/** The request both sides fingerprint, and the response both store: a crew run as the demo returns it. */
const request = { method: 'POST', path: '/crews/crew-7/runs', body: { goal: 'Summarise the Q3 incident reports', agents: ['planner', 'writer'] } };
const response = () => ({
  id: 'run-3f9c2a', crewId: 'crew-7', status: 'queued', steps: 4, createdAt: '2026-11-30T08:00:00.000Z', goal: request.body.goal,
  agents: [{ id: 'planner', model: 'gpt-4o' }, { id: 'writer', model: 'claude-sonnet' }],
});

async function ourApp(ctx: BenchContext): Promise<INestApplicationContext> {
  Logger.overrideLogger(['error']);
  return NestFactory.createApplicationContext(
    CoordinationModule.forRoot({ connection: { url: ctx.redisUrl }, prefix: 'benchidem', health: { pingIntervalMs: 0 } }),
    { logger: ['error'] },
  );
}

function ours(group: string, keyOf: (run: string, i: number) => string, prefill: boolean): BenchCase {
  return {
    name: OURS,
    group,
    async setup(ctx) {
      const app = await ourApp(ctx);
      const idempotency = app.get(IdempotencyService);
      const run = randomBytes(4).toString('hex');
      const options = { tenant: 'acme', fingerprint: request };
      if (prefill) for (let i = 0; i < STORED; i++) await idempotency.run(keyOf(run, i), async () => response(), options);
      return { op: async (i) => void (await idempotency.run(keyOf(run, i), async () => response(), options)), teardown: () => app.close() };
    },
  };
}

function peer(group: string, keyOf: (run: string, i: number) => string, prefill: boolean): BenchCase {
  return {
    name: PEER,
    group,
    baseline: true,
    async setup(ctx) {
      const storage = new RedisStorageAdapter({ url: ctx.redisUrl });
      await storage.connect();
      const idempotency = new Idempotency(storage, { cacheTTLMS: TTL_MS });
      const run = randomBytes(4).toString('hex');
      const handle = async (i: number) => {
        const req = { ...request, headers: { 'idempotency-key': keyOf(run, i) } };
        const stored = await idempotency.onRequest(req);
        if (stored) return stored.body;
        const body = response();
        await idempotency.onResponse(req, { body });
        return body;
      };
      if (prefill) for (let i = 0; i < STORED; i++) await handle(i);
      return { op: async (i) => void (await handle(i)), teardown: () => storage.disconnect() };
    },
  };
}

/** What ioredis itself costs for the same two steps (no fingerprint, no lease, no checks): the most a library on ioredis can reach. */
function raw(group: string, keyOf: (run: string, i: number) => string, prefill: boolean): BenchCase {
  return {
    name: RAW,
    group,
    baseline: true,
    async setup(ctx) {
      const redis = new Redis(ctx.redisUrl, { lazyConnect: true, enableAutoPipelining: true, commandTimeout: 5_000 });
      await redis.connect();
      const run = randomBytes(4).toString('hex');
      const handle = async (i: number) => {
        const key = `raw:${keyOf(run, i)}`;
        // One round trip for both paths, as ours: SET … NX GET (Redis 7) answers the stored value or claims the key.
        const stored = (await redis.call('SET', key, 'in-flight', 'PX', '30000', 'NX', 'GET')) as string | null;
        if (stored === 'in-flight') throw new Error('raw: in flight');
        if (stored !== null) return JSON.parse(stored);
        const body = response();
        await redis.set(key, JSON.stringify(body), 'PX', TTL_MS);
        return body;
      };
      if (prefill) for (let i = 0; i < STORED; i++) await handle(i);
      return { op: async (i) => void (await handle(i)), teardown: async () => void (await redis.quit()) };
    },
  };
}

const fresh = (run: string, i: number) => `k-${run}-${i}`;
const stored = (run: string, i: number) => `k-${run}-${i % STORED}`;

export const cases: BenchCase[] = [
  ours(FIRST, fresh, false), peer(FIRST, fresh, false), raw(FIRST, fresh, false),
  ours(REPLAY, stored, true), peer(REPLAY, stored, true), raw(REPLAY, stored, true),
];
