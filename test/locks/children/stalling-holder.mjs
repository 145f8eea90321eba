// A separate process that takes one lock and then hangs on to it: it never releases, and with
// autoRenew false it does not renew either, so the lock expires at its TTL (a holder that
// stalled or died). Driven by test/locks/locks-takeover.multiprocess.e2e-spec.ts. Plain ESM: it
// imports the built library (libs/coordination/dist, from `npm run build:lib`).
// Usage: fork(file, [json { redisUrl, prefix, key, ttlMs, autoRenew, waitMs, locks }]).
// Sends { type: 'acquired', fencingToken, at } (at: Date.now() once acquire() returned).
import 'reflect-metadata';
import { LockService } from '@nest-coordination/core';
import { bootChildApp, childOptions } from '../../support/child-app.mjs';

const options = childOptions();
const app = await bootChildApp(options, { locks: options.locks });
const locks = app.get(LockService);
const lock = await locks.acquire(options.key, { ttlMs: options.ttlMs, autoRenew: options.autoRenew, waitMs: options.waitMs });
process.send({ type: 'acquired', fencingToken: lock.fencingToken, at: Date.now() });
await new Promise(() => undefined);
