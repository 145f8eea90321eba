import { Observable, type Subscriber } from 'rxjs';
import type { CoordinationEvent } from './event.types.js';
import type { TransportSubscription } from './event-transport.interface.js';

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
  private readonly subscriptions: Set<TransportSubscription>;

  constructor(attach: (subscriber: Subscriber<CoordinationEvent<T>>) => TransportSubscription) {
    const subscriptions = new Set<TransportSubscription>();
    super((subscriber) => {
      const subscription = attach(subscriber);
      subscriptions.add(subscription);
      return () => {
        subscriptions.delete(subscription);
        subscription.close();
      };
    });
    this.subscriptions = subscriptions;
  }

  /**
   * Resolves once every current subscriber of this stream is backed by a confirmed server
   * subscription (at once when it has none); rejects with the subscribe error (for
   * example `RedisUnavailableError`) when one failed. While the subscriber connection is
   * down it waits until the subscriptions are confirmed again after the reconnect.
   */
  async ready(): Promise<void> {
    // Read each `ready` now, not at subscribe time: a connection loss since then replaced it.
    await Promise.all([...this.subscriptions].map((subscription) => subscription.ready));
  }
}
