import { Observable, type Subscriber } from 'rxjs';
import type { CoordinationEvent } from './event.types.js';
import type { TransportSubscription } from './event-transport.js';

/**
 * The Observable `EventBus.on()` returns. Cold: each subscription attaches one listener,
 * and the server (P)SUBSCRIBE is made for the first listener of a channel or pattern and
 * dropped when the last one unsubscribes.
 *
 * The server subscription is confirmed asynchronously; events published before that are
 * not seen (pub/sub keeps no history). `ready()` tells when it is safe to publish.
 *
 * @example
 * const stream = bus.on<CrewRun>('crew.*', { tenant: 'acme' });
 * const first = firstValueFrom(stream.pipe(take(1), timeout(5_000))); // subscribes
 * await stream.ready();                                                // PSUBSCRIBE confirmed
 * await bus.publish('crew.started', run, { tenant: 'acme' });
 * await first;
 */
export class EventStream<T> extends Observable<CoordinationEvent<T>> {
  private readonly confirmations: Set<Promise<void>>;

  constructor(attach: (subscriber: Subscriber<CoordinationEvent<T>>) => TransportSubscription) {
    const confirmations = new Set<Promise<void>>();
    super((subscriber) => {
      const subscription = attach(subscriber);
      const confirmed = subscription.ready;
      confirmations.add(confirmed);
      return () => {
        confirmations.delete(confirmed);
        subscription.close();
      };
    });
    this.confirmations = confirmations;
  }

  /**
   * Resolves once every current subscriber of this stream is backed by a confirmed server
   * subscription (at once when it has none); rejects with the subscribe error (for
   * example `RedisUnavailableError`) when one failed.
   */
  async ready(): Promise<void> {
    await Promise.all(this.confirmations);
  }
}
