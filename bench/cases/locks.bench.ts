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
const OURS_ALL_EVENTS = "nest-coordination LockService (events: 'all')";
const SEMAPHORE = 'redis-semaphore Mutex';
const REDLOCK = '@sesamecare-oss/redlock';
const RAW = 'raw SET NX PX + Lua compare-and-delete';
const FLOOR = 'raw counter-token floor';

const COMPARE_AND_DELETE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
/**
 * The least a fenced lock can send and run: one script takes the next number of a per-lock
 * counter and sets the lock to it (SET NX PX), so the counter value is both the owner token and
 * the fencing token; release is the compare-and-delete script. No queue, no reentrancy, no
 * owner, no recovery from a lost counter: the floor the library's uncontended pair is held to.
 */
const COUNTER_TOKEN_ACQUIRE = "local f = redis.call('INCR', KEYS[2]) if redis.call('SET', KEYS[1], f, 'NX', 'PX', ARGV[1]) then return f end return 0";

/**
 * The uncontended group's keys, the same for every case: a bounded set, so after the first 1 000
 * ops every acquisition meets an existing fence counter (the steady state of an application that
 * locks the same resources again; a fresh key per op would measure only the first-time path and
 * leave a fence key per op behind). 50 ops in flight take consecutive i's, which never share a key.
 */
const KEYS = 1_000;
const keyOf = (i: number): string => `k${i % KEYS}`;

/** Every case gets the same kind of client: ioredis with autopipelining, as the library uses. */
async function connect(ctx: BenchContext): Promise<Redis> {
  const redis = new Redis(ctx.redisUrl, { lazyConnect: true, enableAutoPipelining: true });
  await redis.connect();
  return redis;
}

/** `events: undefined`: the default options (`locks.events: 'exceptional'`). */
async function ourApp(ctx: BenchContext, events: 'all' | undefined): Promise<{ app: INestApplicationContext; locks: LockService }> {
  Logger.overrideLogger(['error']);
  const locks = events === undefined ? {} : { events };
  const app = await NestFactory.createApplicationContext(
    CoordinationModule.forRoot({ connection: { url: ctx.redisUrl }, prefix: 'bench', health: { pingIntervalMs: 0 }, locks }),
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

const ours = (name: string, group: string, events?: 'all'): BenchCase => ({
  name,
  group,
  async setup(ctx) {
    const { app, locks } = await ourApp(ctx, events);
    const op: CaseInstance['op'] = group === UNCONTENDED
      ? async (i) => void (await (await locks.acquire(keyOf(i), { ttlMs: TTL_MS })).release())
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
        const mutex = new Mutex(redis, keyOf(i), options);
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
  ours(OURS, UNCONTENDED),
  ours(OURS_ALL_EVENTS, UNCONTENDED, 'all'),
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
          const lock = await redlock.acquire([keyOf(i)], TTL_MS);
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
          const key = keyOf(i);
          const token = randomBytes(12).toString('base64url');
          if ((await redis.set(key, token, 'PX', TTL_MS, 'NX')) !== 'OK') throw new Error('raw lock busy');
          await cad(key, token);
        },
        teardown: async () => void (await redis.quit()),
      };
    },
  },
  {
    name: FLOOR,
    group: UNCONTENDED,
    baseline: true,
    async setup(ctx) {
      const redis = await connect(ctx);
      redis.defineCommand('benchCounterAcquire', { numberOfKeys: 2, lua: COUNTER_TOKEN_ACQUIRE });
      redis.defineCommand('benchCompareAndDelete', { numberOfKeys: 1, lua: COMPARE_AND_DELETE });
      const client = redis as unknown as {
        benchCounterAcquire(key: string, counter: string, ttlMs: number): Promise<number>;
        benchCompareAndDelete(key: string, token: number): Promise<number>;
      };
      return {
        async op(i) {
          const key = keyOf(i);
          const token = await client.benchCounterAcquire(key, `${key}:f`, TTL_MS);
          if (token === 0) throw new Error('raw lock busy');
          await client.benchCompareAndDelete(key, token);
        },
        teardown: async () => void (await redis.quit()),
      };
    },
  },
  ours(OURS, HANDOFF),
  semaphore(HANDOFF),
];

export const groups: BenchGroupOptions[] = [
  {
    name: UNCONTENDED,
    // Every case locks the same bounded key set (keyOf: 1 000 keys, reused), so all of them,
    // peers included, do the same work: the steady state, not the first-time path of a new key.
    // Issue #15, with default options: throughput against redis-semaphore and the floor, and
    // bytes sent to Redis per acquire + release pair against the floor's.
    targets: [
      { case: OURS, versus: SEMAPHORE, atLeast: 1.0 },
      { case: OURS, versus: FLOOR, atLeast: 0.7 },
      { case: OURS, versus: FLOOR, metric: 'bytesIn', atMost: 2 },
    ],
  },
  {
    name: HANDOFF,
    metric: 'p50',
    concurrency: 20,
    targets: [{ case: OURS, versus: SEMAPHORE, atLeast: 3, metric: 'p50' }],
  },
];
