import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redlock } from '@sesamecare-oss/redlock';
import { Redis } from 'ioredis';
import { Mutex } from 'redis-semaphore';
import { CoordinationModule, LockService } from '@nest-coordination/core';
import type { BenchCase, BenchContext, BenchGroupOptions, CaseInstance } from '../harness/types.js';

const UNCONTENDED = 'locks: uncontended acquire+release';
const HANDOFF = 'locks: contended hand-off (release -> next acquire)';
const TTL_MS = 10_000;
const OURS = 'nest-coordination LockService';
const OURS_QUIET = 'nest-coordination LockService (events off)';
const SEMAPHORE = 'redis-semaphore Mutex';
const REDLOCK = '@sesamecare-oss/redlock';
const RAW = 'raw SET NX PX + Lua compare-and-delete';

const COMPARE_AND_DELETE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** Every case gets the same kind of client: ioredis with autopipelining, as the library uses. */
async function connect(ctx: BenchContext): Promise<Redis> {
  const redis = new Redis(ctx.redisUrl, { lazyConnect: true, enableAutoPipelining: true });
  await redis.connect();
  return redis;
}

async function ourApp(ctx: BenchContext, events: boolean): Promise<{ app: INestApplicationContext; locks: LockService }> {
  Logger.overrideLogger(['error']);
  const app = await NestFactory.createApplicationContext(
    CoordinationModule.forRoot({ connection: { url: ctx.redisUrl }, prefix: 'bench', health: { pingIntervalMs: 0 }, locks: { events } }),
    { logger: ['error'] },
  );
  return { app, locks: app.get(LockService) };
}

/** After releasing, a worker stays away this long, so the next holder is one that was already waiting. */
const SIT_OUT_MS = 25;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Hand-off latency: every op waits for the one key, records the time since the previous
 * holder started its release, releases, and sits out (else the releaser would barge in again
 * and "hand off" to itself). 20 ops in flight = up to 20 waiters.
 */
function handoff(acquire: () => Promise<() => Promise<unknown>>): CaseInstance['op'] {
  let releasedAt: number | undefined;
  return async () => {
    const release = await acquire();
    const sample = releasedAt === undefined ? 0 : performance.now() - releasedAt;
    releasedAt = performance.now();
    await release();
    await sleep(SIT_OUT_MS);
    return sample;
  };
}

const ours = (name: string, group: string, events: boolean): BenchCase => ({
  name,
  group,
  async setup(ctx) {
    const { app, locks } = await ourApp(ctx, events);
    const op: CaseInstance['op'] = group === UNCONTENDED
      ? async (i) => void (await (await locks.acquire(`k${i}`, { ttlMs: TTL_MS })).release())
      : handoff(async () => {
        const lock = await locks.acquire('hot', { ttlMs: TTL_MS, waitMs: 60_000 });
        return () => lock.release();
      });
    return { op, teardown: () => app.close() };
  },
});

const semaphore = (group: string): BenchCase => ({
  name: SEMAPHORE,
  group,
  baseline: true,
  async setup(ctx) {
    const redis = await connect(ctx);
    const options = { lockTimeout: TTL_MS, acquireTimeout: 60_000 };
    const op: CaseInstance['op'] = group === UNCONTENDED
      ? async (i) => {
        const mutex = new Mutex(redis, `k${i}`, options);
        await mutex.acquire();
        await mutex.release();
      }
      : handoff(async () => {
        const mutex = new Mutex(redis, 'hot', options);
        await mutex.acquire();
        return () => mutex.release();
      });
    return { op, teardown: async () => void (await redis.quit()) };
  },
});

export const cases: BenchCase[] = [
  ours(OURS, UNCONTENDED, true),
  ours(OURS_QUIET, UNCONTENDED, false),
  semaphore(UNCONTENDED),
  {
    name: REDLOCK,
    group: UNCONTENDED,
    baseline: true,
    async setup(ctx) {
      const redis = await connect(ctx);
      const redlock = new Redlock([redis], { retryCount: 0 });
      return {
        async op(i) {
          const lock = await redlock.acquire([`k${i}`], TTL_MS);
          await lock.release();
        },
        teardown: async () => void (await redis.quit()),
      };
    },
  },
  {
    name: RAW,
    group: UNCONTENDED,
    baseline: true,
    async setup(ctx) {
      const redis = await connect(ctx);
      redis.defineCommand('benchCompareAndDelete', { numberOfKeys: 1, lua: COMPARE_AND_DELETE });
      const cad = (redis as unknown as { benchCompareAndDelete(key: string, token: string): Promise<number> }).benchCompareAndDelete.bind(redis);
      return {
        async op(i) {
          const key = `k${i}`;
          const token = randomBytes(12).toString('base64url');
          if ((await redis.set(key, token, 'PX', TTL_MS, 'NX')) !== 'OK') throw new Error('raw lock busy');
          await cad(key, token);
        },
        teardown: async () => void (await redis.quit()),
      };
    },
  },
  ours(OURS, HANDOFF, true),
  semaphore(HANDOFF),
];

export const groups: BenchGroupOptions[] = [
  {
    name: UNCONTENDED,
    targets: [
      { case: OURS, versus: SEMAPHORE, atLeast: 1.2 },
      { case: OURS, versus: REDLOCK, atLeast: 1.5 },
      { case: OURS, versus: RAW, atLeast: 0.85 },
    ],
  },
  {
    name: HANDOFF,
    metric: 'p50',
    concurrency: 20,
    targets: [{ case: OURS, versus: SEMAPHORE, atLeast: 5, metric: 'p50' }],
  },
];
