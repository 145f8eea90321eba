import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Redis } from 'ioredis';

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

/**
 * The benches' peer @nestjs/throttler storage on ioredis: no maintained Redis storage supports
 * Nest 12 yet (@nest-lab/throttler-storage-redis peers @nestjs/common <= 11), so this is a minimal
 * one in that package's shape, one Lua round trip per request: one EVALSHA of INCR on a hit
 * counter, PTTL/PEXPIRE on it, and a block key. A fixed window per key, not the per-hit expiry
 * @nestjs/throttler's in-memory storage documents. Used by http.bench.ts and throttler.bench.ts.
 *
 * @example
 * ThrottlerModule.forRoot({ throttlers: [{ limit: 100, ttl: 60_000 }], storage: new MinimalRedisThrottlerStorage(redis) });
 */
export class MinimalRedisThrottlerStorage implements ThrottlerStorage {
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
