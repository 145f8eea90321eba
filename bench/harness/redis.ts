import { Redis } from 'ioredis';
import { startRedisServer } from '../../test/harness/redis-server.js';

export interface BenchRedis {
  url: string;
  host: string;
  port: number;
  version: string;
  /** 'private' when this run started its own redis-server, else 'BENCH_REDIS_URL'. */
  source: 'private' | 'BENCH_REDIS_URL';
  flushAll(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a private redis-server for the run, or uses BENCH_REDIS_URL (which gets FLUSHALLed!). */
export async function openBenchRedis(): Promise<BenchRedis> {
  const external = process.env.BENCH_REDIS_URL;
  const server = external ? undefined : await startRedisServer();
  const url = external ?? server!.url;
  const parsed = new URL(url);
  const admin = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const info = await admin.info('server');
    return {
      url,
      host: parsed.hostname || '127.0.0.1',
      port: Number(parsed.port || 6379),
      version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
      source: external ? 'BENCH_REDIS_URL' : 'private',
      flushAll: async () => void (await admin.flushall()),
      close: async () => {
        admin.disconnect();
        await server?.stop();
      },
    };
  } catch (err) {
    admin.disconnect();
    await server?.stop();
    throw err;
  }
}
