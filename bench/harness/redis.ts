import { Redis } from 'ioredis';
import { startRedisServer } from '../../test/harness/redis-server.js';

/** Running totals of a redis-server, from INFO stats and INFO cpu. */
export interface RedisCounters {
  /** `total_net_input_bytes`: bytes all clients sent to Redis. */
  netInBytes: number;
  /** `total_net_output_bytes`: bytes Redis sent to all clients (replies, pub/sub messages). */
  netOutBytes: number;
  /** `used_cpu_user` + `used_cpu_sys`, in µs (all of redis-server's threads). */
  cpuUs: number;
  /**
   * Bytes of the INFO reply these figures came from, as sent (RESP2 bulk string: `$<length>\r\n`,
   * body, `\r\n`). It is counted in `netOutBytes` only after the snapshot, so a window opened by
   * this call includes it. The reply grows as the server runs (~16-28 B per pass), hence per call.
   */
  replyBytes: number;
}

export interface BenchRedis {
  url: string;
  host: string;
  port: number;
  version: string;
  /** 'private' when this run started its own redis-server, else 'BENCH_REDIS_URL'. */
  source: 'private' | 'BENCH_REDIS_URL';
  flushAll(): Promise<void>;
  /** The server's counters now. */
  counters(): Promise<RedisCounters>;
  /**
   * Bytes of the request one `counters()` call sends (always the same). A window between two
   * calls includes the closing call's request (read before the snapshot) and the opening call's
   * reply (`replyBytes`, written after it); the runner subtracts both.
   */
  counterRequestBytes: number;
  close(): Promise<void>;
}

/** The INFO call of `counters()`: two sections in one call (Redis >= 7), one request and reply per snapshot. */
const INFO_ARGS = ['INFO', 'stats', 'cpu'];

/** Bytes of a RESP2 bulk string carrying `text`: `$<length>\r\n<text>\r\n`. */
export function respBulkBytes(text: string): number {
  const length = Buffer.byteLength(text);
  return 1 + String(length).length + 2 + length + 2;
}

/** Bytes of a command as sent: a RESP array (`*<count>\r\n`) of bulk strings. */
export function respCommandBytes(args: string[]): number {
  return 1 + String(args.length).length + 2 + args.reduce((sum, arg) => sum + respBulkBytes(arg), 0);
}

const field = (info: string, name: string): number => {
  const match = new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info);
  return match ? Number(match[1]) : NaN;
};

/** Starts a private redis-server for the run, or uses BENCH_REDIS_URL (which gets FLUSHALLed!). */
export async function openBenchRedis(): Promise<BenchRedis> {
  const external = process.env.BENCH_REDIS_URL;
  const server = external ? undefined : await startRedisServer();
  const url = external ?? server!.url;
  const parsed = new URL(url);
  // RESP2: INFO's reply is then a plain bulk string, whose size respBulkBytes knows.
  const admin = new Redis(url, { maxRetriesPerRequest: 1, protocol: 2 });
  const counters = async (): Promise<RedisCounters> => {
    const info = (await admin.call(INFO_ARGS[0], ...INFO_ARGS.slice(1))) as string;
    return {
      netInBytes: field(info, 'total_net_input_bytes'),
      netOutBytes: field(info, 'total_net_output_bytes'),
      cpuUs: Math.round((field(info, 'used_cpu_user') + field(info, 'used_cpu_sys')) * 1e6),
      replyBytes: respBulkBytes(info),
    };
  };
  try {
    const info = await admin.info('server');
    return {
      url,
      host: parsed.hostname || '127.0.0.1',
      port: Number(parsed.port || 6379),
      version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
      source: external ? 'BENCH_REDIS_URL' : 'private',
      flushAll: async () => void (await admin.flushall()),
      counters,
      counterRequestBytes: respCommandBytes(INFO_ARGS),
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
