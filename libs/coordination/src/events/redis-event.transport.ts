import { RedisUnavailableError } from '../errors/coordination.error.js';
import type { RedisClient } from '../connection/redis-client.factory.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import { isTransportError } from '../connection/redis-errors.js';
import type {
  EventTransport, SubscriptionKind, TransportListener, TransportSubscription,
} from './event-transport.interface.js';
import { RefCountedSubscriptions } from './ref-counted-subscriptions.js';

const nothing = (): void => undefined;

/**
 * Redis pub/sub for the redis driver. Publishes through the command connection (circuit
 * breaker included) and receives on the one shared subscriber connection of the module
 * instance, with a single `message` and `pmessage` listener that dispatches to local
 * subscribers.
 *
 * The subscriber connection does not re-send its subscriptions after a reconnect
 * (`autoResubscribe` is off, see redis-client.factory.ts): while it is down the subscriptions
 * count as unconfirmed (`ready` pends); once it is back this transport re-issues each
 * (P)SUBSCRIBE and its reply confirms it again, or its refusal fails the listeners. (On a
 * cluster ioredis moves the subscriber to another node with its subscriptions; the re-issue
 * there is idempotent.) The listener stays attached to the same client object, so nothing is
 * subscribed twice and nothing is delivered twice.
 *
 * @example
 * const transport = new RedisEventTransport(core.connection!);
 * const sub = transport.subscribe('channel', core.keys.channel('acme', 'events', 'crew.started'), listener);
 * await sub.ready;
 */
export class RedisEventTransport implements EventTransport {
  private readonly subscriptions = new RefCountedSubscriptions({
    open: (kind, name) => this.open(kind, name),
    shut: (kind, name) => this.shut(kind, name),
  });
  private subscriberClient?: RedisClient;

  constructor(private readonly connection: RedisConnection) {}

  publish(channel: string, message: string): Promise<void> {
    // Not async: one `then` dropping the receiver count costs less than an async function's frame and promise.
    return this.connection.execute('events.publish', (client) => client.publish(channel, message)).then(nothing);
  }

  subscribe(kind: SubscriptionKind, name: string, listener: TransportListener): TransportSubscription {
    return this.subscriptions.subscribe(kind, name, listener);
  }

  get activeSubscriptions(): number {
    return this.subscriptions.size;
  }

  drain(): Promise<void> {
    return this.subscriptions.drain();
  }

  private async open(kind: SubscriptionKind, name: string): Promise<void> {
    const client = this.subscriber();
    try {
      if (kind === 'channel') await client.subscribe(name);
      else await client.psubscribe(name);
    } catch (error) {
      throw isTransportError(error) ? new RedisUnavailableError(`events.${kind === 'channel' ? 'subscribe' : 'psubscribe'}`, error) : error;
    }
  }

  private async shut(kind: SubscriptionKind, name: string): Promise<void> {
    const client = this.subscriber();
    if (kind === 'channel') await client.unsubscribe(name);
    else await client.punsubscribe(name);
  }

  private subscriber(): RedisClient {
    if (!this.subscriberClient) {
      const client = this.connection.subscriber();
      const subscriptions = this.subscriptions;
      client.on('message', (channel: string, message: string) => subscriptions.dispatch('channel', channel, channel, message));
      client.on('pmessage', (pattern: string, channel: string, message: string) =>
        subscriptions.dispatch('pattern', pattern, channel, message),
      );
      client.on('close', () => subscriptions.connectionLost());
      client.on('reconnecting', () => subscriptions.connectionLost());
      client.on('ready', () => subscriptions.connectionRestored());
      this.subscriberClient = client;
    }
    return this.subscriberClient;
  }
}
