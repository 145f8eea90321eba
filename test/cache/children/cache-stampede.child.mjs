// One instance of the fleet in test/cache/cache-stampede.multiprocess.spec.ts: its own process and
// CoordinationModule on the shared Redis. Plain ESM importing the built library
// (libs/coordination/dist). Usage: fork(file, [json options]); messages:
//   -> { type: 'ready' }   booted
//   <- { type: 'go' }      start `callers` concurrent getOrSet calls of one cold key
//   -> { type: 'joined', role }  every caller of this process waits on its one load, and that load
//                          holds the lease (role 'holder': its loader runs) or lost its first
//                          attempt at it (role 'waiter': it waits for the holder's bus message)
//   -> { type: 'done', values, stats } once every call returned
// The loader counts its calls with INCR and then waits for the parent's go-ahead (BLPOP on a list
// the parent pushes to), so every caller of every process arrives while it runs.
import 'reflect-metadata';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { CacheService } from '@nest-coordination/core';
import { CACHE_STORE } from '../../../libs/coordination/dist/cache/cache-store.interface.js';
import { bootChildApp, childOptions } from '../../support/child-app.mjs';

const options = childOptions();
// Longer than the test: a waiter that gives up and loads itself would be a failure.
const app = await bootChildApp(options, { cache: { leaseWaitMs: 60_000, leaseTtlMs: 60_000 } });
const cache = app.get(CacheService);
const redis = new Redis(options.redisUrl);
const blocking = new Redis(options.redisUrl);

// Observes the real store's answers to this process's lease attempts (nothing else changes).
const store = app.get(CACHE_STORE);
const tryLease = store.tryLease.bind(store);
let lostLeases = 0;
store.tryLease = async (...args) => {
  const won = await tryLease(...args);
  if (!won) lostLeases++;
  return won;
};
let loading = false;

const loader = async () => {
  await redis.incr(options.callsKey);
  loading = true;
  const released = await blocking.blpop(options.releaseKey, 30);
  if (released === null) throw new Error('the parent never released the loader');
  return { loadedBy: process.pid };
};

process.on('message', async (message) => {
  if (message.type !== 'go') return;
  const calls = Array.from({ length: options.callers }, () => cache.getOrSet('cold', loader, { ttlMs: 60_000 }));
  // Conditions, not a pause: every caller but the first has joined this process's one load, and
  // that load runs its loader or has found the lease taken (so it will wait for the holder).
  while (cache.stats().coalesced < options.callers - 1 || !(loading || lostLeases > 0)) await delay(5);
  process.send({ type: 'joined', role: loading ? 'holder' : 'waiter' });
  const values = await Promise.all(calls);
  process.send({ type: 'done', values, stats: cache.stats() }, async () => {
    redis.disconnect();
    blocking.disconnect();
    await app.close();
    process.exit(0);
  });
});
process.send({ type: 'ready' });
