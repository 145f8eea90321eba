import { RedisUnavailableError } from '../errors/coordination.error.js';
import type { RedisClient, RedisConnection } from '../connection/redis-connection.js';
import { isTransportError } from '../connection/redis-errors.js';
import { EventTransport, type SubscriptionKind } from './event-transport.js';

/**
 * Redis pub/sub for the redis driver. Publishes through the command connection (circuit
 * breaker included) and receives on the one shared subscriber connection of the module
 * instance, with a single `message` and `pmessage` listener that dispatches to local
 * subscribers.
 *
 * After a reconnect ioredis re-issues every SUBSCRIBE/PSUBSCRIBE itself (`autoResubscribe`,
 * on by default; on a cluster the subscriber moves to another node and takes its
 * subscriptions along). The listener stays attached to the same client object, so nothing
 * is subscribed twice and nothing is delivered twice. While the connection is down the
 * subscriptions count as unconfirmed (`ready` pends); once it is back each (P)SUBSCRIBE is
 * re-issued and its reply confirms it again, as ioredis does not report its own resubscribe.
 *
 * @example
 * const transport = new RedisEventTransport(core.connection!);
 * const sub = transport.subscribe('channel', core.keys.channel('acme', 'events', 'crew.started'), listener);
 * await sub.ready;
 */
export class RedisEventTransport extends EventTransport {
  private subscriberClient?: RedisClient;

  constructor(private readonly connection: RedisConnection) {
    super();
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.connection.execute('events.publish', (client) => client.publish(channel, message));
  }

  protected async open(kind: SubscriptionKind, name: string): Promise<void> {
    const client = this.subscriber();
    try {
      if (kind === 'channel') await client.subscribe(name);
      else await client.psubscribe(name);
    } catch (error) {
      throw isTransportError(error) ? new RedisUnavailableError(`events.${kind === 'channel' ? 'subscribe' : 'psubscribe'}`, error) : error;
    }
  }

  protected async shut(kind: SubscriptionKind, name: string): Promise<void> {
    const client = this.subscriber();
    if (kind === 'channel') await client.unsubscribe(name);
    else await client.punsubscribe(name);
  }

  private subscriber(): RedisClient {
    if (!this.subscriberClient) {
      const client = this.connection.subscriber();
      client.on('message', (channel: string, message: string) => this.dispatch('channel', channel, channel, message));
      client.on('pmessage', (pattern: string, channel: string, message: string) =>
        this.dispatch('pattern', pattern, channel, message),
      );
      client.on('close', () => this.connectionLost());
      client.on('reconnecting', () => this.connectionLost());
      client.on('ready', () => this.connectionRestored());
      this.subscriberClient = client;
    }
    return this.subscriberClient;
  }
}
