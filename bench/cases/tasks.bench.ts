import { randomBytes } from 'node:crypto';
import { Injectable, Logger, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { CoordinationModule, TaskHandler, TaskService, type TaskContext } from '@nest-coordination/core';
import { Arrivals } from '../harness/arrivals.js';
import type { BenchCase, BenchContext, BenchGroupOptions, BenchProbe, CaseInstance } from '../harness/types.js';

const END_TO_END = 'tasks: end to end (enqueue a bulk of 50 → empty handler → completed), worker concurrency 10';
const OURS = 'nest-coordination TaskService.enqueueMany + @TaskHandler';
const PLAIN = 'plain BullMQ Queue.addBulk + Worker';
const FAIRNESS = 'tasks: fairness (tenant A enqueues 10 000, then tenant B 10; one worker, concurrency 10)';

/** Tasks per op: one op enqueues a bulk and ends when all of it completed, so jobs/s = ops/s × BULK. */
const BULK = 50;
/** Bulks in flight (the group's concurrency): up to 200 tasks queued at once. */
const BULKS_IN_FLIGHT = 4;
const WORKER_CONCURRENCY = 10;
const FLOOD = 10_000;
const SMALL = 10;
/** The target: all of B's tasks complete before A's 200th does. */
const FAIRNESS_TARGET = 200;

const NOOP_TASK = 'bench.noop';
const FAIR_TASK = 'bench.fair';
const runId = () => randomBytes(4).toString('hex');
const payload = (i: number) => ({ i, runId: 'run-1', agent: 'planner', prompt: 'Draft the quarterly plan' });

/** Where our handlers report to: set by the case (or probe) that boots the app, one at a time. */
const sinks: { arrivals?: Arrivals; completions?: string[] } = {};

@Injectable()
class NoopHandler {
  @TaskHandler(NOOP_TASK, { concurrency: WORKER_CONCURRENCY })
  noop(task: { i: number }): void {
    sinks.arrivals?.arrived(task.i);
  }
}

@Injectable()
class FairHandler {
  @TaskHandler(FAIR_TASK, { concurrency: WORKER_CONCURRENCY })
  fair(_task: unknown, context: TaskContext): void {
    sinks.completions?.push(context.tenant ?? '');
  }
}

const coordination = (ctx: BenchContext, prefix: string) =>
  CoordinationModule.forRoot({ connection: { url: ctx.redisUrl }, prefix, health: { pingIntervalMs: 0 }, tasks: { attempts: 1 } });

function appWith(ctx: BenchContext, prefix: string, handlers: Array<typeof NoopHandler | typeof FairHandler>): Promise<INestApplicationContext> {
  Logger.overrideLogger(['error']);
  @Module({ imports: [coordination(ctx, prefix)], providers: handlers })
  class BenchModule {}
  return NestFactory.createApplicationContext(BenchModule, { logger: ['error'] });
}

async function ours(ctx: BenchContext): Promise<CaseInstance> {
  const arrivals = (sinks.arrivals = new Arrivals());
  const app = await appWith(ctx, `benchtask${runId()}`, [NoopHandler]);
  const tasks = app.get(TaskService);
  return {
    async op(i) {
      const first = i * BULK;
      const done = Array.from({ length: BULK }, (_, k) => arrivals.expect(first + k));
      await tasks.enqueueMany(NOOP_TASK, done.map((_, k) => ({ payload: payload(first + k) })), { tenant: 'acme' });
      await Promise.all(done);
    },
    async teardown() {
      await app.close();
      sinks.arrivals = undefined;
    },
  };
}

const bullConnection = (ctx: BenchContext) => new Redis(ctx.redisUrl, { maxRetriesPerRequest: null });

async function plain(ctx: BenchContext): Promise<CaseInstance> {
  const connection = bullConnection(ctx);
  const prefix = `plain${runId()}`;
  const queue = new Queue('{noop}', { connection, prefix });
  const arrivals = new Arrivals();
  const worker = new Worker('{noop}', async (job) => arrivals.arrived((job.data as { i: number }).i), { connection, prefix, concurrency: WORKER_CONCURRENCY });
  return {
    async op(i) {
      const first = i * BULK;
      const done = Array.from({ length: BULK }, (_, k) => arrivals.expect(first + k));
      await queue.addBulk(done.map((_, k) => ({ name: 'noop', data: payload(first + k), opts: { removeOnComplete: { count: 1_000 } } })));
      await Promise.all(done);
    },
    async teardown() {
      await worker.close();
      await queue.close();
      connection.disconnect();
    },
  };
}

/** How many of A's tasks had completed when B's last one did, and when B's first one did. */
function fairnessOf(completions: readonly string[]): { atFirst: number; atLast: number } {
  let a = 0;
  let atFirst = -1;
  let b = 0;
  for (const tenant of completions) {
    if (tenant === 'a') a++;
    else if (++b === 1) atFirst = a;
    if (b === SMALL) return { atFirst, atLast: a };
  }
  return { atFirst, atLast: NaN };
}

const until = async (done: () => boolean, what: string, timeoutMs = 120_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

/** Ours: a producer app enqueues both floods, then a worker app starts its @TaskHandler. */
async function oursFairness(ctx: BenchContext): Promise<{ atFirst: number; atLast: number }> {
  const prefix = `benchfair${runId()}`;
  const producer = await appWith(ctx, prefix, []);
  const tasks = producer.get(TaskService);
  for (let from = 0; from < FLOOD; from += 1_000) {
    await tasks.enqueueMany(FAIR_TASK, Array.from({ length: 1_000 }, (_, k) => ({ payload: payload(from + k) })), { tenant: 'a' });
  }
  await tasks.enqueueMany(FAIR_TASK, Array.from({ length: SMALL }, (_, k) => ({ payload: payload(k) })), { tenant: 'b' });
  const completions: string[] = (sinks.completions = []);
  const worker = await appWith(ctx, prefix, [FairHandler]);
  try {
    await until(() => completions.filter((t) => t === 'b').length === SMALL, "B's tasks");
    return fairnessOf(completions);
  } finally {
    await worker.close();
    await producer.close();
    sinks.completions = undefined;
  }
}

/** Plain BullMQ (one queue, FIFO): the same floods, tenant in the job data. */
async function plainFairness(ctx: BenchContext): Promise<{ atFirst: number; atLast: number }> {
  const connection = bullConnection(ctx);
  const prefix = `plainfair${runId()}`;
  const queue = new Queue('{fair}', { connection, prefix });
  for (let from = 0; from < FLOOD; from += 1_000) {
    await queue.addBulk(Array.from({ length: 1_000 }, (_, k) => ({ name: 'fair', data: { tenant: 'a', ...payload(from + k) } })));
  }
  await queue.addBulk(Array.from({ length: SMALL }, (_, k) => ({ name: 'fair', data: { tenant: 'b', ...payload(k) } })));
  const completions: string[] = [];
  const worker = new Worker('{fair}', async (job) => void completions.push((job.data as { tenant: string }).tenant), { connection, prefix, concurrency: WORKER_CONCURRENCY });
  try {
    await until(() => completions.filter((t) => t === 'b').length === SMALL, "B's jobs");
    return fairnessOf(completions);
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    connection.disconnect();
  }
}

export const cases: BenchCase[] = [
  { name: OURS, group: END_TO_END, setup: ours },
  { name: PLAIN, group: END_TO_END, baseline: true, setup: plain },
];

export const groups: BenchGroupOptions[] = [
  { name: END_TO_END, concurrency: BULKS_IN_FLIGHT, targets: [{ case: OURS, versus: PLAIN, atLeast: 0.9 }] },
];

export const probes: BenchProbe[] = [
  {
    name: FAIRNESS,
    async run(ctx) {
      const o = await oursFairness(ctx);
      const p = await plainFairness(ctx);
      const met = o.atLast < FAIRNESS_TARGET;
      const text = [
        `A's tasks completed when B's first / last task completed (lower is fairer; the worker starts after both enqueues):`,
        '',
        `- ${OURS}: ${o.atFirst} / ${o.atLast}`,
        `- ${PLAIN} (FIFO, no fairness): ${p.atFirst} / ${p.atLast}`,
        `- target ${met ? 'MET' : 'MISSED'}: B's last task completes before A's ${FAIRNESS_TARGET}th (got ${o.atLast})`,
      ].join('\n');
      return { text, missed: met ? 0 : 1 };
    },
  },
];
