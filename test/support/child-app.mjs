// What every forked test child (test/locks/children/*.mjs, test/cache/children/*.mjs) starts
// with: its options (JSON in argv[2], from forkWorker) and its own CoordinationModule instance on
// the test Redis. Plain ESM importing the built library (libs/coordination/dist).
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CoordinationModule } from '@nest-coordination/core';

/** The options the parent passed to forkWorker (redisUrl, prefix, and the test's own). */
export const childOptions = () => JSON.parse(process.argv[2]);

/**
 * A silent application context importing CoordinationModule on `options.redisUrl` under
 * `options.prefix`, health pings off, plus `moduleOptions` (e.g. `{ locks: options.locks }`).
 *
 * @example
 * const options = childOptions();
 * const app = await bootChildApp(options, { cache: { leaseWaitMs: 60_000 } });
 */
export async function bootChildApp(options, moduleOptions = {}) {
  Logger.overrideLogger(false);
  return NestFactory.createApplicationContext(
    CoordinationModule.forRoot({ connection: { url: options.redisUrl }, prefix: options.prefix, health: { pingIntervalMs: 0 }, ...moduleOptions }),
    { logger: false },
  );
}
