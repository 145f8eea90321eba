import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { CoordinationModule, StreamService, type StreamSubscription } from '@nest-coordination/core';
import type { BenchCase, BenchContext, BenchGroupOptions } from '../harness/types.js';

const APPEND = 'streams: append (~200 B event, MAXLEN ~ 100000)';
const CONSUME = 'streams: consume end to end (append → handler → ack), batch 10, concurrency 10';

const OURS_APPEND = 'nest-coordination StreamService.append';
const RAW_APPEND = 'raw ioredis XADD (auto-pipelined, JSON.stringify)';
const OURS_CONSUME = 'nest-coordination StreamService.append + consume';
const RAW_CONSUME = 'raw ioredis XADD + XREADGROUP (batch) / XACK floor';

const MAX_LEN = 100_000;
const BATCH = 10;
const CONCURRENCY = 10;
const TENANT = 'acme';

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

/** Ends each op when *its* entry reaches the handler, matched by sequence number. */
class Arrivals {
  private readonly waiting = new Map<number, () => void>();

  expect(i: number): Promise<void> {
    return new Promise((resolve) => this.waiting.set(i, resolve));
  }

  arrived(i: number): void {
    const resolve = this.waiting.get(i);
    this.waiting.delete(i);
    resolve?.();
  }
}

const runId = () => randomBytes(4).toString('hex');

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
  {
    name: OURS_CONSUME,
    group: CONSUME,
    async setup(ctx) {
      const app = await ourApp(ctx);
      const streams = app.get(StreamService);
      const name = `consume-${runId()}`;
      const arrivals = new Arrivals();
      const subscription: StreamSubscription = await streams.consume(
        name,
        'bench',
        (entry) => arrivals.arrived((entry.payload as { i: number }).i),
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
    },
  },
  {
    name: RAW_CONSUME,
    group: CONSUME,
    baseline: true,
    async setup(ctx) {
      const commands = new Redis(ctx.redisUrl, { lazyConnect: true, enableAutoPipelining: true, commandTimeout: 5_000 });
      const reader = new Redis(ctx.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
      await Promise.all([commands.connect(), reader.connect()]);
      const key = `raw:stream:{consume-${runId()}}`;
      await commands.xgroup('CREATE', key, 'bench', '$', 'MKSTREAM');
      const arrivals = new Arrivals();
      let running = true;
      // The floor: read a batch, run its handlers at once (concurrency = batch), ack the batch with one XACK.
      const loop = (async () => {
        while (running) {
          const reply = (await reader
            .xreadgroup('GROUP', 'bench', 'c1', 'COUNT', BATCH, 'BLOCK', 1_000, 'STREAMS', key, '>')
            .catch(() => null)) as Array<[string, Array<[string, string[]]>]> | null;
          if (!reply) continue;
          const entries = reply[0][1];
          await Promise.all(entries.map(async ([, fields]) => arrivals.arrived((JSON.parse(fields[1]) as { i: number }).i)));
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
    },
  },
];

export const groups: BenchGroupOptions[] = [
  { name: APPEND, targets: [{ case: OURS_APPEND, versus: RAW_APPEND, atLeast: 0.9 }] },
  { name: CONSUME, targets: [{ case: OURS_CONSUME, versus: RAW_CONSUME, atLeast: 0.8 }] },
];
