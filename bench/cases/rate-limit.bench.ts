import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { CoordinationModule, RateLimitService, type RateLimitAlgorithm } from '@nest-coordination/core';
import type { BenchCase, BenchContext, BenchGroupOptions, CaseInstance } from '../harness/types.js';

const CONSUME = 'rate-limit: consume() over 1000 keys';
const KEYS = 1000;
// High enough that no key is denied during a run (every case does the same work: one allowed
// check), and within the exact sliding window's largest accepted limit.
const LIMIT = 100_000;
const WINDOW_MS = 60_000;
const keyOf = (i: number) => `user:${i % KEYS}`;

/** Every client gets the same settings as ours (auto-pipelining on), so only the limiter differs. */
async function connect(ctx: BenchContext): Promise<Redis> {
  const redis = new Redis(ctx.redisUrl, { lazyConnect: true, enableAutoPipelining: true });
  await redis.connect();
  return redis;
}

async function ours(ctx: BenchContext, algorithm: RateLimitAlgorithm): Promise<CaseInstance> {
  const app = await NestFactory.createApplicationContext(
    CoordinationModule.forRoot({ connection: { url: ctx.redisUrl }, prefix: 'bench', health: { pingIntervalMs: 0 } }),
    { logger: false },
  );
  const service = app.get(RateLimitService);
  const policy = { limit: LIMIT, windowMs: WINDOW_MS, algorithm };
  return {
    async op(i) {
      const r = await service.consume(keyOf(i), policy);
      if (!r.allowed) throw new Error('denied');
    },
    teardown: () => app.close(),
  };
}

// The least any one-round-trip limiter can cost: INCRBY + PEXPIRE NX in one script, no policy code.
const FLOOR_LUA = `local n = redis.call('INCRBY', KEYS[1], ARGV[1]) redis.call('PEXPIRE', KEYS[1], ARGV[2], 'NX') return n`;

const ALGORITHMS: RateLimitAlgorithm[] = ['sliding-window', 'sliding-window-approx', 'fixed-window', 'token-bucket', 'gcra'];

const consumeCases: BenchCase[] = [
  {
    name: 'rate-limiter-flexible (RateLimiterRedis)',
    group: CONSUME,
    baseline: true,
    async setup(ctx) {
      const redis = await connect(ctx);
      const limiter = new RateLimiterRedis({ storeClient: redis, points: LIMIT, duration: WINDOW_MS / 1000, keyPrefix: 'rlf' });
      return { op: async (i) => void (await limiter.consume(keyOf(i))), teardown: async () => void (await redis.quit()) };
    },
  },
  {
    name: 'raw Lua floor (INCRBY+PEXPIRE)',
    group: CONSUME,
    async setup(ctx) {
      const redis = await connect(ctx);
      redis.defineCommand('benchFloor', { numberOfKeys: 1, lua: FLOOR_LUA });
      const floor = (redis as unknown as { benchFloor(k: string, cost: number, ttl: number): Promise<number> }).benchFloor.bind(redis);
      return {
        async op(i) {
          if ((await floor(`floor:{${keyOf(i)}}`, 1, WINDOW_MS)) > LIMIT) throw new Error('denied');
        },
        teardown: async () => void (await redis.quit()),
      };
    },
  },
  ...ALGORITHMS.map((algorithm): BenchCase => ({ name: `ours ${algorithm}`, group: CONSUME, setup: (ctx) => ours(ctx, algorithm) })),
];

export const cases: BenchCase[] = consumeCases;

const RLF = 'rate-limiter-flexible (RateLimiterRedis)';
const FLOOR = 'raw Lua floor (INCRBY+PEXPIRE)';

export const groups: BenchGroupOptions[] = [
  {
    name: CONSUME,
    targets: [
      // Issue #15: fixed window at 0.75x the raw floor, the exact sliding window at least on par
      // with rate-limiter-flexible (a fixed window), every algorithm at 0.9x of it, and at most
      // 1.5x the floor's bytes sent to Redis per check.
      { case: 'ours fixed-window', versus: FLOOR, atLeast: 0.75 },
      { case: 'ours fixed-window', versus: RLF, atLeast: 1.1 },
      { case: 'ours sliding-window', versus: RLF, atLeast: 1.0 },
      ...ALGORITHMS.filter((a) => a !== 'sliding-window' && a !== 'fixed-window').map((a) => ({ case: `ours ${a}`, versus: RLF, atLeast: 0.9 })),
      ...ALGORITHMS.map((a) => ({ case: `ours ${a}`, versus: FLOOR, metric: 'bytesIn' as const, atMost: 1.5 })),
    ],
  },
];
