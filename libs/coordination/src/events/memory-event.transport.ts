import { globToRegExp } from '../keys/glob.js';
import type {
  EventTransport, SubscriptionKind, TransportListener, TransportSubscription,
} from './event-transport.interface.js';
import { RefCountedSubscriptions } from './ref-counted-subscriptions.js';

/** What every publish returns: accepted at once, delivered later (a settled promise has no state to share). */
const ACCEPTED = Promise.resolve();

/**
 * Pub/sub inside one module instance, for the memory driver. Same semantics as Redis:
 * patterns, reference-counted subscriptions, and asynchronous delivery (a publisher never
 * runs its subscribers' code inside its own call stack), in publish order.
 *
 * @example
 * const transport = new MemoryEventTransport();
 * transport.subscribe('pattern', 'app:_shared:events:crew.*', { message: (channel, text) => logger.log(channel), failed: (error) => logger.error(error) });
 * await transport.publish('app:_shared:events:crew.started', 'encoded');
 */
export class MemoryEventTransport implements EventTransport {
  private readonly channels = new Set<string>();
  private readonly matchers = new Map<string, RegExp>();
  private readonly subscriptions = new RefCountedSubscriptions({
    open: async (kind, name) => {
      if (kind === 'channel') this.channels.add(name);
      else this.matchers.set(name, globToRegExp(name));
    },
    shut: async (kind, name) => {
      if (kind === 'channel') this.channels.delete(name);
      else this.matchers.delete(name);
    },
  });

  publish(channel: string, message: string): Promise<void> {
    setImmediate(() => {
      if (this.channels.has(channel)) this.subscriptions.dispatch('channel', channel, channel, message);
      for (const [pattern, matcher] of this.matchers) {
        if (matcher.test(channel)) this.subscriptions.dispatch('pattern', pattern, channel, message);
      }
    });
    return ACCEPTED;
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
}
