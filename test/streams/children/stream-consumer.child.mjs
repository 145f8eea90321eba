// One consumer process of the multi-process stream tests (test/streams/*.multiprocess.spec.ts):
// its own CoordinationModule on the shared Redis (standalone, or the cluster when `cluster` lists
// its nodes), consuming `stream` as `consumer` of `group` in tenant `tenant`. Plain ESM importing
// the built library (libs/coordination/dist). Usage: fork(file, [json options]); messages:
//   -> { type: 'ready' }              consume() resolved: the consumer runs
//   -> { type: 'stalled', recorded }  (stallAfter) the handler recorded its stallAfter-th entry and never returns
//   <- { type: 'go' }                 (gated) handlers start: until then every handler waits
// Every handler call writes to Redis under the test's keys (`keys` prefix, one hash tag):
//   <keys>:records   RPUSH { id, n, consumer, deliveries } when the handler succeeds, before it returns
//   <keys>:attempts  RPUSH { id, n, consumer, deliveries } for a poison entry, then the handler throws
//   <keys>:running:<id> / <keys>:overlaps  (exclusive) INCR at start, DECR at the end; an INCR
//                    that finds another handler of the entry running pushes the id to overlaps
import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import { StreamService } from '@nest-coordination/core';
import { bootChildApp, childOptions } from '../../support/child-app.mjs';

// Never outlive the Jest run that forked it: the IPC channel closes when the parent dies.
process.on('disconnect', () => process.exit(1));

const options = childOptions();
const connection = options.cluster ? { cluster: options.cluster } : { url: options.redisUrl };
const app = await bootChildApp(options, { connection, streams: { shutdownTimeoutMs: 1_000 } });
const redis = options.cluster ? new Cluster(options.cluster) : new Redis(options.redisUrl);
const { keys, consumer } = options;

const gate = options.gated
  ? new Promise((resolve) => process.on('message', (message) => message.type === 'go' && resolve()))
  : undefined;
let recorded = 0;

async function handle(entry) {
  if (gate) await gate;
  const record = JSON.stringify({ id: entry.id, n: entry.payload.n, consumer, deliveries: entry.deliveries });
  if (options.exclusive && (await redis.incr(`${keys}:running:${entry.id}`)) > 1) await redis.rpush(`${keys}:overlaps`, entry.id);
  try {
    if (options.poison?.includes(entry.payload.n)) {
      await redis.rpush(`${keys}:attempts`, record);
      throw new Error(`poison entry ${entry.payload.n}`);
    }
    // Holds the entry on purpose, longer than claimIdleMs: only the consumer's renewals keep it.
    if (options.holdMs) await sleep(options.holdMs);
  } finally {
    if (options.exclusive) await redis.decr(`${keys}:running:${entry.id}`);
  }
  await redis.rpush(`${keys}:records`, record);
  recorded += 1;
  if (recorded === options.stallAfter) {
    process.send({ type: 'stalled', recorded });
    // Never returns: this entry and the ones read after it stay pending until the process dies.
    await new Promise(() => undefined);
  }
}

await app.get(StreamService).consume(options.stream, options.group, handle, { ...options.consume, consumer, tenant: options.tenant });
process.send({ type: 'ready' });
