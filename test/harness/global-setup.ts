/**
 * Starts the shared Redis servers once per Jest run: one standalone (unless REDIS_URL
 * points at an existing one) and one 3-master cluster. Workers find them through env vars
 * (see env.ts), which they inherit from this process.
 */
import { createRequire } from 'node:module';
import type * as Harness from './redis-server.js';

// Jest loads this file outside its module system, so moduleNameMapper does not apply and
// Node cannot resolve './redis-server.js' to the TypeScript source. Jest's require hook,
// active while this file loads, does transpile .ts files: require the source directly.
const { assertRedisBinaries, killStaleRedisServers, startRedisCluster, startRedisServer } = createRequire(
  import.meta.url,
)('./redis-server.ts') as typeof Harness;

export interface TestRedisState {
  standalone?: Harness.RedisServerHandle;
  cluster?: Harness.RedisClusterHandle;
}

declare global {
  // Handed from globalSetup to globalTeardown, which run in the same process.
  var __coordTestRedis: TestRedisState | undefined;
}

export default async function globalSetup(): Promise<void> {
  assertRedisBinaries();
  killStaleRedisServers();
  const state: TestRedisState = {};
  globalThis.__coordTestRedis = state;

  const results = await Promise.allSettled([
    process.env.REDIS_URL ? undefined : startRedisServer().then((s) => (state.standalone = s)),
    startRedisCluster({ masters: 3 }).then((c) => (state.cluster = c)),
  ]);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    // Jest skips globalTeardown when globalSetup throws.
    await Promise.all([state.standalone?.stop(), state.cluster?.stop()]);
    throw failure.reason;
  }

  process.env.COORD_TEST_REDIS_URL = process.env.REDIS_URL || state.standalone!.url;
  process.env.COORD_TEST_CLUSTER_NODES = state.cluster!.nodes.map((n) => `${n.host}:${n.port}`).join(',');
}
