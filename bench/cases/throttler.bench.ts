import { createHash } from 'node:crypto';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { CoordinationModule } from '@nest-coordination/core';
import { CoordinationThrottlerModule, CoordinationThrottlerStorage } from '@nest-coordination/core/throttler';
import type { BenchCase, BenchContext, BenchGroupOptions } from '../harness/types.js';
import { MinimalRedisThrottlerStorage } from './minimal-throttler-storage.js';

const INCREMENT = 'throttler: ThrottlerStorage.increment() over 1000 keys';
const KEYS = 1000;
// High enough that no key is blocked during a run: every case does the same work, one counted hit.
const LIMIT = 100_000;
const TTL_MS = 60_000;
// What ThrottlerGuard passes as keys: sha256 hex of class, handler, throttler and tracker.
const GUARD_KEYS = Array.from({ length: KEYS }, (_, i) => createHash('sha256').update(`PagesController-page-default-user-${i}`).digest('hex'));
const keyOf = (i: number) => GUARD_KEYS[i % KEYS];

/** Every client gets the same settings as ours (auto-pipelining on), so only the storage differs. */
async function connect(ctx: BenchContext): Promise<Redis> {
  const redis = new Redis(ctx.redisUrl, { lazyConnect: true, enableAutoPipelining: true });
  await redis.connect();
  return redis;
}

const MINIMAL = 'minimal Redis storage (one EVALSHA: INCR + PTTL, block key)';
const OURS = 'ours: CoordinationThrottlerStorage';

export const cases: BenchCase[] = [
  {
    name: MINIMAL,
    group: INCREMENT,
    baseline: true,
    async setup(ctx) {
      const redis = await connect(ctx);
      const storage = new MinimalRedisThrottlerStorage(redis);
      return {
        async op(i) {
          if ((await storage.increment(keyOf(i), TTL_MS, LIMIT, TTL_MS, 'default')).isBlocked) throw new Error('blocked');
        },
        teardown: async () => void (await redis.quit()),
      };
    },
  },
  {
    name: OURS,
    group: INCREMENT,
    async setup(ctx) {
      @Module({
        imports: [
          CoordinationModule.forRoot({ connection: { url: ctx.redisUrl }, prefix: 'bench', health: { pingIntervalMs: 0 } }),
          CoordinationThrottlerModule,
        ],
      })
      class BenchModule {}
      const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
      const storage = app.get(CoordinationThrottlerStorage);
      return {
        async op(i) {
          if ((await storage.increment(keyOf(i), TTL_MS, LIMIT, TTL_MS, 'default')).isBlocked) throw new Error('blocked');
        },
        teardown: () => app.close(),
      };
    },
  },
];

export const groups: BenchGroupOptions[] = [
  {
    name: INCREMENT,
    // Issue #17: at least on par with the minimal one-round-trip storage, which keeps a fixed
    // window where ours keeps @nestjs/throttler's per-hit expiry; and no more bytes to Redis.
    targets: [
      { case: OURS, versus: MINIMAL, atLeast: 1.0 },
      { case: OURS, versus: MINIMAL, metric: 'bytesIn', atMost: 1.0 },
    ],
  },
];
