import { Controller, Get, Injectable, Module, type INestApplication } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { Throttle, ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface.js';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { CoordinationModule, RateLimit, RateLimitGuard, RateLimitService, type RateLimitAlgorithm } from '@nest-coordination/core';
import type { BenchCase, BenchContext, BenchGroupOptions, CaseInstance } from '../harness/types.js';

const CONSUME = 'rate-limit: consume() over 1000 keys';
const HTTP = 'rate-limit: guarded HTTP endpoint (autocannon, 1000 users)';
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

// --- HTTP: the same endpoint behind our guard and behind @nestjs/throttler -----------------

/**
 * A ThrottlerStorage on ioredis: no maintained Redis storage supports Nest 12 yet
 * (@nest-lab/throttler-storage-redis peers @nestjs/common <= 11), so this is a minimal one,
 * one Lua round trip per request like that package's.
 */
const THROTTLER_LUA = `
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
local blocked = redis.call('PTTL', KEYS[2])
if blocked <= 0 and hits > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3]) blocked = tonumber(ARGV[3])
end
return { hits, ttl, blocked }`;

class RedisThrottlerStorage {
  private readonly run: (k1: string, k2: string, ttl: number, limit: number, block: number) => Promise<number[]>;
  constructor(readonly redis: Redis) {
    redis.defineCommand('throttlerIncrement', { numberOfKeys: 2, lua: THROTTLER_LUA });
    const client = redis as unknown as { throttlerIncrement: RedisThrottlerStorage['run'] };
    this.run = client.throttlerIncrement.bind(redis);
  }
  async increment(key: string, ttl: number, limit: number, blockDuration: number, name: string): Promise<ThrottlerStorageRecord> {
    const [hits, timeToExpire, blocked] = await this.run(`thr:{${name}:${key}}`, `thr:{${name}:${key}}:block`, ttl, limit, blockDuration || ttl);
    return { totalHits: hits, timeToExpire: Math.ceil(timeToExpire / 1000), isBlocked: blocked > 0, timeToBlockExpire: Math.max(0, Math.ceil(blocked / 1000)) };
  }
}

@Controller()
class OursController {
  @RateLimit({ scope: 'user', name: 'user', limit: LIMIT, windowMs: WINDOW_MS, algorithm: 'fixed-window' })
  @Get('limited')
  limited() {
    return { ok: true };
  }
}

@Controller()
class ThrottledController {
  @Throttle({ default: { limit: LIMIT, ttl: WINDOW_MS } })
  @Get('limited')
  limited() {
    return { ok: true };
  }
}

/** Both guards track the user from the same header, so both count 1000 keys. */
@Injectable()
class UserThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, any>): Promise<string> {
    return String(req.headers['x-user']);
  }
}

const userFromHeader = (req: any, _res: unknown, next: () => void) => {
  req.user = { id: req.headers['x-user'] };
  next();
};

/**
 * Runs autocannon against `app` for the whole case and hands each response to one op, with
 * autocannon's own latency as the sample: ops/s = responses/s.
 */
async function underAutocannon(app: INestApplication, ctx: BenchContext, close: () => Promise<void>): Promise<CaseInstance> {
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  let user = 0;
  const ready: number[] = [];
  const waiting: Array<(ms: number) => void> = [];
  let errors = 0;
  const instance = autocannon({
    url: `http://127.0.0.1:${port}/limited`,
    connections: ctx.concurrency,
    duration: 3_600,
    requests: [{ setupRequest: (req: any) => ({ ...req, headers: { ...req.headers, 'x-user': `u${user++ % KEYS}` } }) }],
  }, () => undefined);
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status !== 200) errors++;
    const next = waiting.shift();
    if (next) next(ms);
    else if (ready.length < 100_000) ready.push(ms);
  });
  return {
    async op() {
      if (errors > 0) throw new Error(`${errors} non-200 responses`);
      return ready.length > 0 ? ready.shift()! : new Promise<number>((resolve) => waiting.push(resolve));
    },
    async teardown() {
      instance.stop();
      waiting.splice(0).forEach((resolve) => resolve(0));
      await close();
    },
  };
}

const httpCases: BenchCase[] = [
  {
    name: '@nestjs/throttler + Redis storage',
    group: HTTP,
    baseline: true,
    async setup(ctx) {
      const redis = await connect(ctx);
      @Module({
        imports: [ThrottlerModule.forRoot({ throttlers: [{ limit: LIMIT, ttl: WINDOW_MS }], storage: new RedisThrottlerStorage(redis) })],
        controllers: [ThrottledController],
        providers: [{ provide: APP_GUARD, useClass: UserThrottlerGuard }],
      })
      class ThrottlerApp {}
      const app = await NestFactory.create(ThrottlerApp, { logger: false });
      return underAutocannon(app, ctx, async () => {
        await app.close();
        await redis.quit();
      });
    },
  },
  {
    name: 'ours: RateLimitGuard (fixed-window)',
    group: HTTP,
    async setup(ctx) {
      @Module({
        imports: [CoordinationModule.forRoot({ connection: { url: ctx.redisUrl }, prefix: 'bench', health: { pingIntervalMs: 0 } })],
        controllers: [OursController],
        providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
      })
      class OursApp {}
      const app = await NestFactory.create(OursApp, { logger: false });
      app.use(userFromHeader);
      return underAutocannon(app, ctx, () => app.close());
    },
  },
];

export const cases: BenchCase[] = [...consumeCases, ...httpCases];

export const groups: BenchGroupOptions[] = [
  {
    name: CONSUME,
    targets: [
      { case: 'ours sliding-window', versus: 'rate-limiter-flexible (RateLimiterRedis)', atLeast: 1.0 },
      { case: 'ours fixed-window', versus: 'rate-limiter-flexible (RateLimiterRedis)', atLeast: 1.1 },
    ],
  },
  { name: HTTP },
];

