// A separate process with its own CoordinationModule instance and shutdown hooks, driven by
// test/locks/lock-shutdown.multiprocess.e2e-spec.ts. Plain ESM: it imports the built library
// (libs/coordination/dist, from `npm run build:lib`). Usage: fork(file, [json options]).
// Every step is appended to the Redis list `options.log`, so the order across processes is the
// order Redis saw them in.
//   mode "holder":    a long withLock section on "crew" that stops when its lock's signal aborts;
//                     shuts down gracefully on SIGTERM (enableShutdownHooks)
//   mode "contender": keeps trying "crew" without waiting (like a second crew run) until it gets it
import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { LockService, LockTimeoutError } from '@nest-coordination/core';
import { bootChildApp, childOptions } from '../../support/child-app.mjs';

const options = childOptions();
const app = await bootChildApp(options);
const locks = app.get(LockService);
const redis = new Redis(options.redisUrl);
const log = (step) => redis.rpush(options.log, step);

if (options.mode === 'holder') {
  app.enableShutdownHooks();
  await locks.withLock('crew', async (lock) => {
    await log('holder:start');
    process.send({ type: 'entered', fencingToken: lock.fencingToken });
    // The run goes on until its lock's signal tells it to stop (here: the instance shuts down).
    await new Promise((resolve) => {
      if (lock.signal.aborted) resolve();
      else lock.signal.addEventListener('abort', resolve, { once: true });
    });
    await log(`holder:aborted:${lock.signal.reason?.code ?? String(lock.signal.reason)}`);
    // Winding down takes a while (recording the aborted run): a lock let go before the section
    // returns would let the contender in during this time.
    await sleep(300);
    await log('holder:end');
  }, { ttlMs: 5_000, waitMs: 0 });
  // Reached during shutdown; Nest ends the process once close() is done.
  await new Promise(() => undefined);
} else if (options.mode === 'contender') {
  let refused = false;
  for (;;) {
    try {
      await locks.withLock('crew', () => log('contender:start'), { ttlMs: 5_000, waitMs: 0 });
      break;
    } catch (error) {
      if (!(error instanceof LockTimeoutError)) throw error;
      if (!refused) process.send({ type: 'refused' });
      refused = true;
      // A client retrying its request: try again shortly.
      await sleep(10);
    }
  }
  process.send({ type: 'done' });
  redis.disconnect();
  await app.close();
  process.exit(0);
}
