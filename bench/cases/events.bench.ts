import { performance } from 'node:perf_hooks';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CoordinationModule, EventBus, type CoordinationModuleOptions } from '@nest-coordination/core';
import { Redis } from 'ioredis';
import type { Subscription } from 'rxjs';
import { Arrivals } from '../harness/arrivals.js';
import type { BenchCase, BenchContext, BenchGroupOptions, CaseInstance } from '../harness/types.js';

const GROUP = 'events: publish→receive latency';
const CHANNEL = 'bench.latency';
const RAW = 'ioredis PUBLISH→SUBSCRIBE';
const OURS = 'EventBus publish→on (redis)';

/** publish → receive through `EventBus` on a Nest application context with the given driver. */
async function eventBusCase(options: CoordinationModuleOptions): Promise<CaseInstance> {
  const app: INestApplicationContext = await NestFactory.createApplicationContext(
    CoordinationModule.forRoot({ prefix: 'bench', ...options }),
    { logger: false },
  );
  const bus = app.get(EventBus);
  const arrivals = new Arrivals();
  const stream = bus.on<{ i: number; at: Date }>(CHANNEL, { tenant: 'bench' });
  const subscription: Subscription = stream.subscribe((event) => arrivals.arrived(event.payload.i));
  await stream.ready();
  return {
    async op(i) {
      const started = performance.now();
      const received = arrivals.expect(i);
      await bus.publish(CHANNEL, { i, at: new Date() }, { tenant: 'bench' });
      await received;
      return performance.now() - started;
    },
    async teardown() {
      subscription.unsubscribe();
      await app.close();
    },
  };
}

export const cases: BenchCase[] = [
  {
    name: RAW,
    group: GROUP,
    baseline: true,
    async setup(ctx: BenchContext) {
      // Auto-pipelined like the library's command connection, so only the EventBus differs.
      const publisher = new Redis(ctx.redisUrl, { enableAutoPipelining: true });
      const subscriber = new Redis(ctx.redisUrl);
      const arrivals = new Arrivals();
      subscriber.on('message', (_channel: string, message: string) => arrivals.arrived((JSON.parse(message) as { i: number }).i));
      await subscriber.subscribe(`bench:raw:${CHANNEL}`);
      return {
        async op(i) {
          const started = performance.now();
          const received = arrivals.expect(i);
          await publisher.publish(`bench:raw:${CHANNEL}`, JSON.stringify({ i, at: new Date() }));
          await received;
          return performance.now() - started;
        },
        async teardown() {
          await Promise.all([publisher.quit(), subscriber.quit()]);
        },
      };
    },
  },
  {
    name: OURS,
    group: GROUP,
    setup: (ctx) => eventBusCase({ connection: { url: ctx.redisUrl } }),
  },
  {
    name: 'EventBus publish→on (memory)',
    group: GROUP,
    setup: () => eventBusCase({ driver: 'memory' }),
  },
];

/**
 * Latency is the point here, so compare on p50 and keep the load moderate. The target (issue
 * #15): what the bus adds (envelope with id, time and source, the serializer, tenant context,
 * decode once per instance) keeps its p50 within 1.3× of a bare PUBLISH→SUBSCRIBE.
 */
export const groups: BenchGroupOptions[] = [
  { name: GROUP, metric: 'p50', concurrency: 10, targets: [{ case: OURS, versus: RAW, metric: 'p50', atMost: 1.3 }] },
];
