// One instance of the fleet in test/cache/cache-stampede.multiprocess.spec.ts: its own process and
// CoordinationModule on the shared Redis. Plain ESM importing the built library
// (libs/coordination/dist). Usage: fork(file, [json options]); messages:
//   -> { type: 'ready' }   booted
//   <- { type: 'go' }      start `callers` concurrent getOrSet calls of one cold key
//   -> { type: 'joined' }  every caller of this process waits on its one load
//   -> { type: 'done', values, stats } once every call returned
// The loader counts its calls with INCR and then waits for the parent's go-ahead (BLPOP on a list
// the parent pushes to), so every caller of every process arrives while it runs.
import 'reflect-metadata';
import { setTimeout as delay } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { CacheService, CoordinationModule } from '@nest-coordination/core';

const options = JSON.parse(process.argv[2]);
Logger.overrideLogger(false);

const app = await NestFactory.createApplicationContext(
  CoordinationModule.forRoot({
    connection: { url: options.redisUrl },
    prefix: options.prefix,
    health: { pingIntervalMs: 0 },
    // Longer than the test: a waiter that gives up and loads itself would be a failure.
    cache: { leaseWaitMs: 60_000, leaseTtlMs: 60_000 },
  }),
  { logger: false },
);
const cache = app.get(CacheService);
const redis = new Redis(options.redisUrl);
const blocking = new Redis(options.redisUrl);

const loader = async () => {
  await redis.incr(options.callsKey);
  const released = await blocking.blpop(options.releaseKey, 30);
  if (released === null) throw new Error('the parent never released the loader');
  return { loadedBy: process.pid };
};

process.on('message', async (message) => {
  if (message.type !== 'go') return;
  const calls = Array.from({ length: options.callers }, () => cache.getOrSet('cold', loader, { ttlMs: 60_000 }));
  // Condition, not a pause: every caller but the first has joined this process's one load.
  while (cache.stats().coalesced < options.callers - 1) await delay(5);
  process.send({ type: 'joined' });
  const values = await Promise.all(calls);
  process.send({ type: 'done', values, stats: cache.stats() }, async () => {
    redis.disconnect();
    blocking.disconnect();
    await app.close();
    process.exit(0);
  });
});
process.send({ type: 'ready' });
