import type { CoordinationEvent, EventStream } from '@nest-coordination/core';
import { Observable } from 'rxjs';

/**
 * When a failed event subscription is made again: `firstMs` after the first failure, doubling
 * with each failure in a row up to `maxMs`.
 *
 * @example
 * const retry: ResubscribeDelays = { firstMs: 1_000, maxMs: 30_000 };
 */
export interface ResubscribeDelays {
  firstMs: number;
  maxMs: number;
}

/**
 * What `lastingEvents` tells its caller, besides the events.
 *
 * @example
 * const hooks: LastingEventsHooks = { confirmed: () => refresh(), failed: (error, retryInMs) => logger.warn(`lost, again in ${retryInMs} ms`) };
 */
export interface LastingEventsHooks {
  /** A subscription was confirmed (the first one, and each one made again after a failure). */
  confirmed(): void;
  /** The subscription failed; it is made again in `retryInMs`. */
  failed(error: unknown, retryInMs: number): void;
}

/**
 * The events of the EventBus streams `open()` returns, for as long as the subscriber stays:
 * when the subscription fails (Redis unreachable when it was made, or not restored after a
 * reconnect), a new one is made after a bounded delay (`delays`), until one holds. Pub/sub
 * keeps no history: what was published while there was none is not seen, hence
 * `hooks.confirmed`, after which the caller reads again whatever the events would have told.
 * Completes when the bus completes its streams (shutdown).
 *
 * @example
 * lastingEvents(() => bus.on('lock.*', { tenant }), { firstMs: 1_000, maxMs: 30_000 }, { confirmed: refresh, failed: warn }).subscribe(refresh);
 */
export function lastingEvents<T>(open: () => EventStream<T>, delays: ResubscribeDelays, hooks: LastingEventsHooks): Observable<CoordinationEvent<T>> {
  return new Observable<CoordinationEvent<T>>((subscriber) => {
    let failures = 0;
    let retry: NodeJS.Timeout | undefined;
    let attempt: { unsubscribe(): void } | undefined;
    const subscribe = (): void => {
      retry = undefined;
      const stream = open();
      let failed = false;
      attempt = stream.subscribe({
        next: (event) => subscriber.next(event),
        error: (error: unknown) => {
          failed = true;
          const delay = Math.min(delays.maxMs, delays.firstMs * 2 ** failures);
          failures += 1;
          hooks.failed(error, delay);
          if (subscriber.closed) return;
          retry = setTimeout(subscribe, delay);
          retry.unref();
        },
        complete: () => subscriber.complete(),
      });
      // `ready()` reads the stream's subscriptions now: a failure already delivered left none, hence `failed`.
      stream.ready().then(() => {
        if (failed || subscriber.closed) return;
        failures = 0;
        hooks.confirmed();
      }, () => undefined); // reported by `error` above
    };
    subscribe();
    return () => {
      clearTimeout(retry);
      attempt?.unsubscribe();
    };
  });
}
