import { createHash } from 'node:crypto';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { Redis } from 'ioredis';
import { CoordinationModule } from '@nest-coordination/core';
import { CoordinationThrottlerModule, CoordinationThrottlerStorage } from '@nest-coordination/core/throttler';
import type { BenchCase, BenchContext, BenchGroupOptions } from '../harness/types.js';

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

/**
 * The bench's minimal one-round-trip Redis ThrottlerStorage (the same as http.bench.ts's, the
 * shape of @nest-lab/throttler-storage-redis, which does not support Nest 12): one EVALSHA of
 * INCR on a hit counter, PTTL/PEXPIRE on it, and a block key. A fixed window per key, not the
 * per-hit expiry @nestjs/throttler's in-memory storage documents.
 */
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

const MINIMAL_LUA = `
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
local blocked = redis.call('PTTL', KEYS[2])
if blocked <= 0 and hits > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3]) blocked = tonumber(ARGV[3])
end
return { hits, ttl, blocked }`;

class MinimalRedisThrottlerStorage implements ThrottlerStorage {
  private readonly run: (k1: string, k2: string, ttl: number, limit: number, block: number) => Promise<number[]>;
  constructor(readonly redis: Redis) {
    redis.defineCommand('throttlerIncrement', { numberOfKeys: 2, lua: MINIMAL_LUA });
    const client = redis as unknown as { throttlerIncrement: MinimalRedisThrottlerStorage['run'] };
    this.run = client.throttlerIncrement.bind(redis);
  }
  async increment(key: string, ttl: number, limit: number, blockDuration: number, name: string): Promise<ThrottlerStorageRecord> {
    const [hits, timeToExpire, blocked] = await this.run(`thr:{${name}:${key}}`, `thr:{${name}:${key}}:block`, ttl, limit, blockDuration || ttl);
    return { totalHits: hits, timeToExpire: Math.ceil(timeToExpire / 1000), isBlocked: blocked > 0, timeToBlockExpire: Math.max(0, Math.ceil(blocked / 1000)) };
  }
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
