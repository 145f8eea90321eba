import { Redis } from 'ioredis';
import type { BenchCase, BenchContext } from '../harness/types.js';

const GROUP = 'redis: raw GET/SET';
const KEYS = 1000;

/** One ioredis client per case, as an application would have. */
async function connect(ctx: BenchContext): Promise<Redis> {
  const redis = new Redis(ctx.redisUrl, { lazyConnect: true });
  await redis.connect();
  return redis;
}

export const cases: BenchCase[] = [
  {
    name: 'ioredis SET+GET',
    group: GROUP,
    baseline: true,
    async setup(ctx) {
      const redis = await connect(ctx);
      return {
        async op(i) {
          const key = `bench:k${i % KEYS}`;
          await redis.set(key, 'v');
          await redis.get(key);
        },
        teardown: async () => void (await redis.quit()),
      };
    },
  },
  {
    name: 'ioredis pipeline(SET, GET)',
    group: GROUP,
    async setup(ctx) {
      const redis = await connect(ctx);
      return {
        async op(i) {
          const key = `bench:k${i % KEYS}`;
          const replies = await redis.pipeline().set(key, 'v').get(key).exec();
          const failed = replies?.find(([err]) => err);
          if (failed) throw failed[0];
        },
        teardown: async () => void (await redis.quit()),
      };
    },
  },
];
