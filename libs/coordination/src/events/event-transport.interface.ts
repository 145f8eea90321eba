/** Injection token of the {@link EventTransport} of one module instance. */
export const EVENT_TRANSPORT = Symbol('EVENT_TRANSPORT');

export type SubscriptionKind = 'channel' | 'pattern';

/** Receives the raw messages of one subscription. */
export interface TransportListener {
  /** `channel` is the full channel the message was published on (also for patterns). */
  message(channel: string, message: string): void;
  /** The server subscription could not be made; the listener is detached. */
  failed(error: unknown): void;
  /**
   * The connection carrying a confirmed subscription was lost: messages published from now on
   * may never arrive, until `resumed`. Optional; a transport without connections (memory) never
   * calls it.
   */
  interrupted?(): void;
  /**
   * The subscription is confirmed on the server again after a connection loss: messages
   * published from now on arrive (those published in between may have been lost). Also called
   * on a listener that joined while the connection was down. Optional.
   */
  resumed?(): void;
}

export interface TransportSubscription {
  /**
   * Settles once the (P)SUBSCRIBE this listener rides on is confirmed; rejects when it failed.
   * Read it when you need it: while the connection is down it is a new, pending promise.
   */
  readonly ready: Promise<void>;
  /** Detaches the listener; the last listener of a channel or pattern unsubscribes on the server. */
  close(): void;
}

/**
 * Moves encoded event messages between module instances: the store of the events capability.
 * Full channel names and patterns come from the KeyBuilder; a transport knows nothing about
 * tenants or payloads. `RedisEventTransport` uses Redis pub/sub, `MemoryEventTransport` stays
 * inside one module instance; both hold one server subscription per channel or pattern,
 * however many listeners share it, and deliver asynchronously.
 *
 * @example
 * const sub = transport.subscribe('pattern', keys.channelPattern('acme', 'events', 'crew.*'), {
 *   message: (channel, text) => handle(channel, text),
 *   failed: (error) => logger.error(error),
 * });
 * await sub.ready; // (P)SUBSCRIBE confirmed: publishes from now on arrive
 * await transport.publish(keys.channel('acme', 'events', 'crew.started'), encoded);
 * sub.close();
 */
export interface EventTransport {
  /** Sends `message` to every subscriber of `channel`, in every module instance on this bus. */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Attaches `listener` to a channel or pattern. The first listener makes the server
   * subscription, the last one to close drops it; a quick leave-and-rejoin never ends
   * unsubscribed.
   */
  subscribe(kind: SubscriptionKind, name: string, listener: TransportListener): TransportSubscription;
  /** Number of channels and patterns with at least one listener (server subscriptions held). */
  readonly activeSubscriptions: number;
  /** Waits (bounded) for pending unsubscribes, so shutdown leaves no subscription behind. */
  drain(): Promise<void>;
}
