import type { INestApplicationContext, Provider, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { CoordinationModule, type CoordinationEvent, type CoordinationModuleOptions, type EventStream } from '@nest-coordination/core';
import { Cluster, Redis } from 'ioredis';
import { filter, firstValueFrom, Subject, take, timeout, toArray } from 'rxjs';
import { testClusterNodes, testRedisUrl } from '../harness/env.js';
import type { DriverCase } from '../support/drivers.js';

/** How long a test waits for an event that must arrive; a miss fails the test instead of hanging it. */
export const EVENT_TIMEOUT_MS = 5_000;

/** A Nest application context with CoordinationModule (and optional providers). Close it in afterEach/afterAll. */
export async function eventsApp(
  options: CoordinationModuleOptions,
  extra: { providers?: Provider[]; controllers?: Type[] } = {},
): Promise<INestApplicationContext> {
  const moduleRef = await Test.createTestingModule({
    imports: [CoordinationModule.forRoot(options)],
    providers: extra.providers ?? [],
    controllers: extra.controllers ?? [],
  }).compile();
  // Logger calls still happen (tests spy on Logger.prototype), they are just not printed.
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

/**
 * Subscribes to `stream` and waits until the server subscription is confirmed; `events`
 * then resolves with the first `count` events (or rejects after EVENT_TIMEOUT_MS).
 */
export async function expectEvents<T>(stream: EventStream<T>, count: number): Promise<{ events: Promise<CoordinationEvent<T>[]> }> {
  const events = firstValueFrom(stream.pipe(take(count), toArray(), timeout(EVENT_TIMEOUT_MS)));
  events.catch(() => undefined); // observed by the test; avoid an unhandled rejection in between
  await stream.ready();
  return { events };
}

/** Raw admin clients on every node of the driver's backend, for PUBSUB / CLIENT LIST checks. */
export function adminClients(driver: DriverCase): Redis[] {
  const urls = driver.name === 'cluster' ? testClusterNodes().map((n) => `redis://${n.host}:${n.port}`) : [testRedisUrl()];
  return urls.map((url) => new Redis(url, { maxRetriesPerRequest: 1 }));
}

/** Subscribers of `channel` summed over every node (a cluster subscriber sits on any one node). */
export async function numsub(admins: Redis[], channel: string): Promise<number> {
  let total = 0;
  for (const admin of admins) {
    const reply = (await admin.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
    total += Number(reply[1]);
  }
  return total;
}

/**
 * Channels and patterns the subscriber connection(s) of one instance hold, from CLIENT LIST
 * (`sub=` / `psub=`). PUBSUB NUMPAT counts every client of the server, and other test files
 * share it, so it cannot isolate one instance's patterns.
 */
export async function subscriberCounts(admins: Redis[], instanceId: string): Promise<{ sub: number; psub: number }> {
  const counts = { sub: 0, psub: 0 };
  for (const admin of admins) {
    const list = (await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
    for (const line of list.split('\n')) {
      if (!line.includes(`coord:${instanceId}:subscriber`)) continue;
      counts.sub += Number(/ sub=(\d+)/.exec(line)?.[1] ?? 0);
      counts.psub += Number(/ psub=(\d+)/.exec(line)?.[1] ?? 0);
    }
  }
  return counts;
}

/** Polls `probe` until it returns `expected` (deep-equal via JSON); returns the last value. */
export async function eventually<T>(probe: () => Promise<T>, expected: T, attempts = 100): Promise<T> {
  let last = await probe();
  for (let i = 0; i < attempts && JSON.stringify(last) !== JSON.stringify(expected); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await probe();
  }
  return last;
}

export function closeAll(clients: Array<Redis | Cluster>): void {
  for (const client of clients.splice(0)) client.disconnect();
}

export interface Collector<T> {
  /** Every event received so far, in arrival order. */
  readonly events: CoordinationEvent<T>[];
  /** Resolves with a copy of `events` once it holds at least `count` (rejects after EVENT_TIMEOUT_MS). */
  waitFor(count: number): Promise<CoordinationEvent<T>[]>;
  stop(): void;
}

/** Subscribes to `stream`, records what arrives, and resolves once the server subscription is confirmed. */
export async function collect<T>(stream: EventStream<T>): Promise<Collector<T>> {
  const events: CoordinationEvent<T>[] = [];
  const arrivals = new Subject<void>();
  const subscription = stream.subscribe((event) => {
    events.push(event);
    arrivals.next();
  });
  await stream.ready();
  return {
    events,
    async waitFor(count) {
      if (events.length < count) {
        await firstValueFrom(arrivals.pipe(filter(() => events.length >= count), timeout(EVENT_TIMEOUT_MS))).catch(() => {
          throw new Error(`expected ${count} events within ${EVENT_TIMEOUT_MS} ms, got ${events.length}: ${JSON.stringify(events.map((e) => e.channel))}`);
        });
      }
      return events.slice();
    },
    stop: () => subscription.unsubscribe(),
  };
}
