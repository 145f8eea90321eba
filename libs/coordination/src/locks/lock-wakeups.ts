import type { WakeupStore } from './lock-store.interface.js';

/** A local waiter, told about every message on its lock's channel. */
export type WakeListener = (message: string) => void;

/** One waiter's hold on a tenant pattern's subscription. */
export interface PatternHold {
  /** Resolves once subscribed: true, or false when that failed (the waiter then relies on polling). */
  readonly ready: Promise<boolean>;
  /** Gives the hold up (idempotent); the last one unsubscribes the pattern. */
  release(): void;
}

interface PatternEntry {
  holders: number;
  readonly ready: Promise<boolean>;
  /** Set while nobody holds the pattern: the pending unsubscribe. */
  idle?: NodeJS.Timeout;
}

/**
 * How long a pattern stays subscribed after its last waiter is done. A tenant whose locks are
 * contended in bursts would otherwise pay a PSUBSCRIBE round trip (and miss hand-offs published
 * meanwhile) at the start of nearly every wait.
 */
export const UNSUBSCRIBE_AFTER_MS = 2_000;

/**
 * Routes wake-up messages to the waiters of this instance. Subscribes lazily, once per tenant
 * pattern, the first time someone has to wait there (the uncontended path never subscribes),
 * and unsubscribes `unsubscribeAfterMs` after the last waiter of that pattern is done: an
 * instance that served many tenants keeps subscriptions only for those with waiters lately.
 *
 * @example
 * const hold = wakeups.hold(pattern);
 * const unregister = wakeups.register(channel, onMessage);
 * try {
 *   await hold.ready;
 *   // ...wait
 * } finally {
 *   unregister();
 *   hold.release();
 * }
 */
export class LockWakeups {
  private readonly listeners = new Map<string, Set<WakeListener>>();
  private readonly patterns = new Map<string, PatternEntry>();
  private readonly dispatch = (channel: string, message: string) => {
    for (const listener of this.listeners.get(channel) ?? []) listener(message);
  };

  /** `unsubscribeAfterMs` 0 unsubscribes as the last waiter leaves (tests of that moment). */
  constructor(private readonly store: WakeupStore, private readonly unsubscribeAfterMs = UNSUBSCRIBE_AFTER_MS) {}

  /** Registers a listener for `channel`; returns the function that removes it. */
  register(channel: string, listener: WakeListener): () => void {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(channel);
    };
  }

  /** Counts a waiter on `pattern`, subscribing for the first one. */
  hold(pattern: string): PatternHold {
    let entry = this.patterns.get(pattern);
    if (!entry) {
      const created: PatternEntry = {
        holders: 0,
        ready: this.store.listen(pattern, this.dispatch).then(
          () => true,
          () => {
            // The next waiter subscribes anew; this entry's waiters poll and must not unsubscribe it.
            if (this.patterns.get(pattern) === created) this.patterns.delete(pattern);
            return false;
          },
        ),
      };
      this.patterns.set(pattern, (entry = created));
    }
    const held = entry;
    clearTimeout(held.idle);
    held.idle = undefined;
    held.holders += 1;
    let released = false;
    return {
      ready: held.ready,
      release: () => {
        if (released) return;
        released = true;
        held.holders -= 1;
        if (held.holders > 0 || this.patterns.get(pattern) !== held) return;
        if (this.unsubscribeAfterMs <= 0) return this.unsubscribe(pattern, held);
        held.idle = setTimeout(() => this.unsubscribe(pattern, held), this.unsubscribeAfterMs);
        held.idle.unref();
      },
    };
  }

  private unsubscribe(pattern: string, entry: PatternEntry): void {
    if (entry.holders > 0 || this.patterns.get(pattern) !== entry) return;
    this.patterns.delete(pattern);
    // Sent now: a waiter arriving from here on subscribes anew, after this (see WakeupStore.unlisten).
    void this.store.unlisten(pattern, this.dispatch);
  }
}
