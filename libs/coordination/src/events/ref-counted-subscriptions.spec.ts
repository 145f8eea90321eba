import type { SubscriptionKind, TransportListener, TransportSubscription } from './event-transport.interface.js';
import { RefCountedSubscriptions } from './ref-counted-subscriptions.js';

/** A backend that confirms every step at once and records them in order. */
function recordingBackend(): { steps: string[]; open(kind: SubscriptionKind, name: string): Promise<void>; shut(kind: SubscriptionKind, name: string): Promise<void> } {
  const steps: string[] = [];
  return {
    steps,
    open: async (kind, name) => void steps.push(`open ${kind} ${name}`),
    shut: async (kind, name) => void steps.push(`shut ${kind} ${name}`),
  };
}

/** A listener recording `<label>:<message>` in `calls`, then running `then` (if any). */
function listener(calls: string[], label: string, then?: () => void): TransportListener {
  return {
    message: (_channel, message) => {
      calls.push(`${label}:${message}`);
      then?.();
    },
    failed: () => calls.push(`${label}:failed`),
    interrupted: () => calls.push(`${label}:interrupted`),
  };
}

/**
 * Listeners join and leave while a message is being handed out (an RxJS take(1) unsubscribes
 * inside next()): each message reaches exactly the listeners there were when it arrived.
 */
describe('RefCountedSubscriptions', () => {
  it('hands a message to every listener it arrived for, even those that left meanwhile, and a listener that joined meanwhile only the next', async () => {
    const subscriptions = new RefCountedSubscriptions(recordingBackend());
    const calls: string[] = [];
    let first: TransportSubscription | undefined;
    let second: TransportSubscription | undefined;
    let joinedLate = false;
    first = subscriptions.subscribe('channel', 'x', listener(calls, 'A', () => {
      if (joinedLate) return;
      joinedLate = true;
      // Leaves, removes a listener not reached yet, and adds one: none of it changes who gets this message.
      first?.close();
      second?.close();
      subscriptions.subscribe('channel', 'x', listener(calls, 'D'));
    }));
    second = subscriptions.subscribe('channel', 'x', listener(calls, 'B'));
    const third = subscriptions.subscribe('channel', 'x', listener(calls, 'C'));
    await third.ready;

    subscriptions.dispatch('channel', 'x', 'x', 'm1');
    expect(calls).toEqual(['A:m1', 'B:m1', 'C:m1']);

    calls.length = 0;
    subscriptions.dispatch('channel', 'x', 'x', 'm2');
    expect(calls).toEqual(['C:m2', 'D:m2']);

    // Leaving or joining between messages counts from the next one.
    third.close();
    calls.length = 0;
    subscriptions.dispatch('channel', 'x', 'x', 'm3');
    expect(calls).toEqual(['D:m3']);
    subscriptions.subscribe('channel', 'x', listener(calls, 'E'));
    calls.length = 0;
    subscriptions.dispatch('channel', 'x', 'x', 'm4');
    expect(calls).toEqual(['D:m4', 'E:m4']);
    expect(subscriptions.size).toBe(1);
  });

  it('lets the last listener leave and a new one join during a dispatch: the subscription is shut, then opened again, in that order', async () => {
    const backend = recordingBackend();
    const subscriptions = new RefCountedSubscriptions(backend);
    const calls: string[] = [];
    let rejoined: TransportSubscription | undefined;
    const only: TransportSubscription = subscriptions.subscribe('pattern', 'p*', listener(calls, 'A', () => {
      only.close();
      rejoined = subscriptions.subscribe('pattern', 'p*', listener(calls, 'A2'));
    }));
    await only.ready;

    subscriptions.dispatch('pattern', 'p*', 'p1', 'm1');
    expect(calls).toEqual(['A:m1']);
    expect(rejoined).toBeDefined();
    await rejoined?.ready;

    expect(backend.steps).toEqual(['open pattern p*', 'shut pattern p*', 'open pattern p*']);
    expect(subscriptions.size).toBe(1);
    subscriptions.dispatch('pattern', 'p*', 'p2', 'm2');
    expect(calls).toEqual(['A:m1', 'A2:m2']);
  });

  it('tells every listener of a lost connection, also one an earlier listener removed while being told', async () => {
    const subscriptions = new RefCountedSubscriptions(recordingBackend());
    const calls: string[] = [];
    let second: TransportSubscription | undefined;
    const first = subscriptions.subscribe('channel', 'x', {
      message: () => undefined,
      failed: () => undefined,
      interrupted: () => {
        calls.push('A:interrupted');
        second?.close();
      },
    });
    second = subscriptions.subscribe('channel', 'x', listener(calls, 'B'));
    await first.ready;

    subscriptions.connectionLost();

    expect(calls).toEqual(['A:interrupted', 'B:interrupted']);
  });
});
