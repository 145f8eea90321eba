// What every forked test child (test/locks/children/*.mjs, test/cache/children/*.mjs, ...) starts
// with: its options (JSON in argv[2], from forkWorker) and its own CoordinationModule instance on
// the test Redis, and an exit when its parent goes away. Plain ESM importing the built library
// (libs/coordination/dist).
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CoordinationModule } from '@nest-coordination/core';

// The IPC channel to the parent closes when the parent dies (a Jest run killed, or crashed):
// exit then, rather than run on holding Redis connections, locks or stream entries.
process.on('disconnect', () => process.exit(1));

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
