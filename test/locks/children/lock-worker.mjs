// A separate process with its own CoordinationModule instance, driven by the multi-process lock
// tests (test/locks/locks.multiprocess.e2e-spec.ts). Plain ESM: it imports the built library
// (libs/coordination/dist, from `npm run build:lib`). Usage: fork(file, [json options]).
//   mode "counter": `iterations` x withLock(read-sleep-write of a counter, with an overlap probe)
//   mode "hold":    acquire once, report, then idle until killed / told to "write" a fenced value
import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { LockService } from '@nest-coordination/core';
import { bootChildApp, childOptions } from '../../support/child-app.mjs';

const options = childOptions();
const app = await bootChildApp(options);
const locks = app.get(LockService);
const redis = new Redis(options.redisUrl);

if (options.mode === 'counter') {
  let overlaps = 0;
  for (let i = 0; i < options.iterations; i++) {
    await locks.withLock('counter', async () => {
      // Overlap probe: whoever is inside must be alone.
      if ((await redis.incr(options.probeKey)) !== 1) overlaps += 1;
      const value = Number((await redis.get(options.counterKey)) ?? 0);
      await sleep(Math.random() * 3);
      await redis.set(options.counterKey, String(value + 1));
      await redis.decr(options.probeKey);
    }, { ttlMs: 5_000, waitMs: 60_000 });
  }
  process.send({ type: 'done', overlaps });
} else if (options.mode === 'hold') {
  const lock = await locks.acquire(options.key, { ttlMs: options.ttlMs, autoRenew: options.autoRenew, waitMs: 0 });
  process.send({ type: 'acquired', fencingToken: lock.fencingToken });
  process.on('message', async (message) => {
    if (message.type === 'write') {
      const accepted = await locks.checkFence(options.resource, lock.fencingToken);
      process.send({ type: 'wrote', accepted, held: lock.isHeld(), signalAborted: lock.signal.aborted });
    }
  });
  await new Promise(() => undefined);
}
redis.disconnect();
await app.close();
process.exit(0);
