import { randomBytes } from 'node:crypto';
import type { CoordinationModuleOptions } from '@nest-coordination/core';
import { testClusterNodes, testRedisUrl } from '../harness/env.js';
import type { RedisServerHandle } from '../harness/redis-server.js';

/**
 * The three backends every contract suite runs against: the embedded memory driver, a
 * standalone redis-server and a three-master cluster, all started by the global setup.
 */
export interface DriverCase {
  name: 'memory' | 'standalone' | 'cluster';
  /** Module options for this backend; merge your own on top. */
  options(): CoordinationModuleOptions;
}

export const DRIVERS: DriverCase[] = [
  { name: 'memory', options: () => ({ driver: 'memory' }) },
  { name: 'standalone', options: () => ({ connection: { url: testRedisUrl() } }) },
  { name: 'cluster', options: () => ({ connection: { cluster: testClusterNodes() } }) },
];

/** The Redis-backed drivers only, for tests of Redis-specific behaviour. */
export const REDIS_DRIVERS = DRIVERS.filter((d) => d.name !== 'memory');

/**
 * A key prefix unique to one test, so suites that share the standalone server and the
 * cluster (Jest runs files in parallel) never see each other's keys.
 */
export function uniquePrefix(label = 't'): string {
  return `${label.replace(/[^A-Za-z0-9]/g, '')}${randomBytes(4).toString('hex')}`;
}

/**
 * A standalone driver on a private server a test kills and restarts: quick reconnects, a short
 * command timeout, and a breaker that never opens, so every call meets the dead server itself
 * (and fails naming its own operation, not the breaker).
 *
 * @example
 * const server = await startRedisServer();
 * const app = await sessionApp(privateServerDriver(server));
 * await server.kill(); // every call now throws RedisUnavailableError
 */
export function privateServerDriver(server: RedisServerHandle): DriverCase {
  return {
    name: 'standalone',
    options: () => ({
      connection: { url: server.url, commandTimeoutMs: 500, connectTimeoutMs: 2_000 },
      reconnect: { baseDelayMs: 20, maxDelayMs: 100 },
      breaker: { failureThreshold: 10_000, openMs: 200 },
    }),
  };
}
