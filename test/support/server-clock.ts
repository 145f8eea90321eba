import type { RedisConnection } from '../../libs/coordination/src/connection/redis-connection.js';
import { until } from './wait.js';

/**
 * The Redis server's clock in ms (TIME), the clock the Lua scripts read.
 *
 * @example
 * const before = await serverNow(connection);
 * expect(Number(fields.t)).toBeGreaterThanOrEqual(before);
 */
export async function serverNow(connection: RedisConnection): Promise<number> {
  const [seconds, micros] = await connection.execute('test.time', (c) => c.time());
  return Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
}

/**
 * Resolves once `ms` of Redis server time have passed: what a store contract's `elapse` does
 * on Redis, where keys expire in real time (the memory store's `elapse` advances its ManualClock).
 *
 * @example
 * await store.putRecord(key, 'v', 100);
 * await elapseServerTime(connection, 101);
 * expect(await store.getRecord(key)).toBeNull();
 */
export async function elapseServerTime(connection: RedisConnection, ms: number): Promise<void> {
  const target = (await serverNow(connection)) + ms;
  await until(async () => (await serverNow(connection)) >= target, { timeoutMs: ms + 10_000, intervalMs: 10, message: `${ms} ms of Redis server time` });
}
