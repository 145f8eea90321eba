import type { INestApplicationContext, Provider, Type } from '@nestjs/common';
import type { CoordinationEvent, CoordinationModuleOptions, EventStream } from '@nest-coordination/core';
import { filter, firstValueFrom, Subject, take, timeout, toArray } from 'rxjs';
import { bootApp } from '../support/boot.js';
import { until } from '../support/wait.js';

/**
 * Channels a module instance subscribes by itself, before any test does: the cache bus
 * (`<prefix>:_shared:cache:bus`, one per module instance, held until shutdown).
 */
export const MODULE_CHANNELS = 1;

/** How long a test waits for an event that must arrive; a miss fails the test instead of hanging it. */
export const EVENT_TIMEOUT_MS = 5_000;

/** A Nest application context with CoordinationModule (and optional providers). Close it in afterEach/afterAll. */
export async function eventsApp(
  options: CoordinationModuleOptions,
  extra: { providers?: Provider[]; controllers?: Type[] } = {},
): Promise<INestApplicationContext> {
  // Logger calls still happen (tests spy on Logger.prototype), they are just not printed.
  return (await bootApp(options, extra)).app;
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

/** Polls `probe` until it returns `expected` (deep-equal via JSON) and returns it; fails showing the last value after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T>, expected: T, timeoutMs = EVENT_TIMEOUT_MS): Promise<T> {
  let last: T | undefined;
  await until(async () => JSON.stringify((last = await probe())) === JSON.stringify(expected), {
    timeoutMs, intervalMs: 50, message: () => `${JSON.stringify(expected)} (last seen: ${JSON.stringify(last)})`,
  });
  return last as T;
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
