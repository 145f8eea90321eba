import type { WakeupStore } from './lock-store.interface.js';

/** A local waiter, told about every message on its lock's channel. */
export type WakeListener = (message: string) => void;

/**
 * Routes wake-up messages to the waiters of this instance. Subscribes lazily, once per tenant
 * pattern, the first time someone has to wait: the uncontended path never subscribes.
 */
export class LockWakeups {
  private readonly listeners = new Map<string, Set<WakeListener>>();
  private readonly dispatch = (channel: string, message: string) => {
    for (const listener of this.listeners.get(channel) ?? []) listener(message);
  };

  constructor(private readonly store: WakeupStore) {}

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

  /** Resolves once subscribed to `pattern`; false when that failed (waiters then rely on polling). */
  async listen(pattern: string): Promise<boolean> {
    try {
      await this.store.listen(pattern, this.dispatch);
      return true;
    } catch {
      return false;
    }
  }
}
