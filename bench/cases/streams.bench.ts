import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { CoordinationModule, StreamService, type StreamSubscription } from '@nest-coordination/core';
import { Arrivals } from '../harness/arrivals.js';
import type { BenchCase, BenchContext, BenchGroupOptions, CaseInstance } from '../harness/types.js';

const APPEND = 'streams: append (~200 B event, MAXLEN ~ 100000)';
const CONSUME = 'streams: consume end to end (append → handler → ack), batch 10, concurrency 10';
/** The same with handlers that take ~1 ms: a backlog builds up, and reads must stay batched (not one entry per read as each handler finishes). */
const CONSUME_1MS = 'streams: consume end to end with ~1 ms handlers (a backlog), batch 10, concurrency 10';

const OURS_APPEND = 'nest-coordination StreamService.append';
const RAW_APPEND = 'raw ioredis XADD (auto-pipelined, JSON.stringify)';
const OURS_CONSUME = 'nest-coordination StreamService.append + consume';
const RAW_CONSUME = 'raw ioredis XADD + XREADGROUP (batch) / XACK floor';

const MAX_LEN = 100_000;
const BATCH = 10;
const CONCURRENCY = 10;
const TENANT = 'acme';
/** What a handler of CONSUME_1MS takes. */
const HANDLER_MS = 1;

/** A crew event of about 200 bytes, the same for every case. */
const event = (i: number) => ({
  type: 'crew.run.completed', crewId: 'crew-7', runId: `run-${i}`, companyId: 'acme', durationMs: 812 + (i % 97),
  result: { summary: 'Drafted the quarterly plan and assigned 4 follow-ups', tokens: 1834 }, at: new Date(),
});

async function ourApp(ctx: BenchContext): Promise<INestApplicationContext> {
  Logger.overrideLogger(['error']);
  return NestFactory.createApplicationContext(
    CoordinationModule.forRoot({ connection: { url: ctx.redisUrl }, prefix: 'benchstream', health: { pingIntervalMs: 0 }, streams: { maxLen: MAX_LEN } }),
    { logger: ['error'] },
  );
}

const runId = () => randomBytes(4).toString('hex');

/** A handler's work: nothing, or a wait of `ms`. */
const work = (ms: number): Promise<void> | void => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : undefined);

/** Ours: append, and a consumer whose handler works `handlerMs` then reports the arrival. */
async function ourConsume(ctx: BenchContext, handlerMs: number): Promise<CaseInstance> {
  const app = await ourApp(ctx);
  const streams = app.get(StreamService);
  const name = `consume-${runId()}`;
  const arrivals = new Arrivals();
  const subscription: StreamSubscription = await streams.consume(
    name,
    'bench',
    async (entry) => {
      await work(handlerMs);
      arrivals.arrived((entry.payload as { i: number }).i);
    },
    { tenant: TENANT, batch: BATCH, concurrency: CONCURRENCY, blockMs: 1_000, startFrom: 'latest' },
  );
  return {
    async op(i) {
      const started = performance.now();
      const handled = arrivals.expect(i);
      await streams.append(name, { i, ...event(i) }, { tenant: TENANT });
      await handled;
      return performance.now() - started;
    },
    async teardown() {
      await subscription.stop();
      await app.close();
    },
  };
}

/** The floor: read a batch, run its handlers at once (concurrency = batch), ack the batch with one XACK. */
async function rawConsume(ctx: BenchContext, handlerMs: number): Promise<CaseInstance> {
  const commands = new Redis(ctx.redisUrl, { lazyConnect: true, enableAutoPipelining: true, commandTimeout: 5_000 });
  const reader = new Redis(ctx.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
  await Promise.all([commands.connect(), reader.connect()]);
  const key = `raw:stream:{consume-${runId()}}`;
  await commands.xgroup('CREATE', key, 'bench', '$', 'MKSTREAM');
  const arrivals = new Arrivals();
  let running = true;
  const loop = (async () => {
    while (running) {
      const reply = (await reader
        .xreadgroup('GROUP', 'bench', 'c1', 'COUNT', BATCH, 'BLOCK', 1_000, 'STREAMS', key, '>')
        .catch(() => null)) as Array<[string, Array<[string, string[]]>]> | null;
      if (!reply) continue;
      const entries = reply[0][1];
      await Promise.all(entries.map(async ([, fields]) => {
        await work(handlerMs);
        arrivals.arrived((JSON.parse(fields[1]) as { i: number }).i);
      }));
      void commands.xack(key, 'bench', ...entries.map(([id]) => id));
    }
  })();
  return {
    async op(i) {
      const started = performance.now();
      const handled = arrivals.expect(i);
      await commands.xadd(key, 'MAXLEN', '~', MAX_LEN, '*', 'd', JSON.stringify({ i, ...event(i) }));
      await handled;
      return performance.now() - started;
    },
    async teardown() {
      running = false;
      reader.disconnect();
      await loop;
      await commands.quit();
    },
  };
}

export const cases: BenchCase[] = [
  {
    name: OURS_APPEND,
    group: APPEND,
    async setup(ctx) {
      const app = await ourApp(ctx);
      const streams = app.get(StreamService);
      const name = `append-${runId()}`;
      return { op: async (i) => void (await streams.append(name, event(i), { tenant: TENANT })), teardown: () => app.close() };
    },
  },
  {
    name: RAW_APPEND,
    group: APPEND,
    baseline: true,
    async setup(ctx) {
      const redis = new Redis(ctx.redisUrl, { lazyConnect: true, enableAutoPipelining: true, commandTimeout: 5_000 });
      await redis.connect();
      const key = `raw:stream:{append-${runId()}}`;
      return {
        op: async (i) => void (await redis.xadd(key, 'MAXLEN', '~', MAX_LEN, '*', 'd', JSON.stringify(event(i)))),
        teardown: async () => void (await redis.quit()),
      };
    },
  },
  { name: OURS_CONSUME, group: CONSUME, setup: (ctx) => ourConsume(ctx, 0) },
  { name: RAW_CONSUME, group: CONSUME, baseline: true, setup: (ctx) => rawConsume(ctx, 0) },
  { name: OURS_CONSUME, group: CONSUME_1MS, setup: (ctx) => ourConsume(ctx, HANDLER_MS) },
  { name: RAW_CONSUME, group: CONSUME_1MS, baseline: true, setup: (ctx) => rawConsume(ctx, HANDLER_MS) },
];

export const groups: BenchGroupOptions[] = [
  { name: APPEND, targets: [{ case: OURS_APPEND, versus: RAW_APPEND, atLeast: 0.9 }] },
  { name: CONSUME, targets: [{ case: OURS_CONSUME, versus: RAW_CONSUME, atLeast: 0.8 }] },
  { name: CONSUME_1MS, targets: [{ case: OURS_CONSUME, versus: RAW_CONSUME, atLeast: 0.8 }] },
];
