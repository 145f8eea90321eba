/** Stops what global-setup.ts started, then any server a test forgot to stop. */
import { createRequire } from 'node:module';
import type * as Harness from './redis-server.js';

// Loaded like global-setup.ts: see there why the .ts source is required directly.
const { killStaleRedisServers } = createRequire(import.meta.url)('./redis-server.ts') as typeof Harness;

export default async function globalTeardown(): Promise<void> {
  const state = globalThis.__coordTestRedis;
  globalThis.__coordTestRedis = undefined;
  await Promise.all([state?.standalone?.stop(), state?.cluster?.stop()]);
  // By now the workers have exited; in-band test files ran in this very process.
  const leaked = killStaleRedisServers({ includeOwn: true });
  if (leaked > 0) console.warn(`globalTeardown: killed ${leaked} redis-server process(es) a test did not stop`);
}
