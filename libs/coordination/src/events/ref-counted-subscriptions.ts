import { Logger } from '@nestjs/common';
import { errorMessage } from './error-message.js';
import type { SubscriptionKind, TransportListener, TransportSubscription } from './event-transport.interface.js';

/** How a transport makes and drops one server subscription. */
export interface SubscriptionBackend {
  /** Makes the server subscription; called for the first listener of a channel or pattern (and again after a reconnect). */
  open(kind: SubscriptionKind, name: string): Promise<void>;
  /** Drops the server subscription; called after the last listener left. */
  shut(kind: SubscriptionKind, name: string): Promise<void>;
}

interface Entry {
  readonly kind: SubscriptionKind;
  readonly name: string;
  /** Orders the open and shut steps of this channel or pattern (see serial()). */
  readonly key: string;
  readonly listeners: Set<TransportListener>;
  /**
   * `listeners` as an array, made by the first delivery after a listener joined or left (both
   * clear it): joining and leaving stay O(1), a message copies nothing while membership is
   * unchanged, and a delivery walks the array it read, so a listener leaving or joining
   * meanwhile (take(1) unsubscribes inside next()) neither skips nor adds one for that message.
   */
  snapshot: readonly TransportListener[] | undefined;
  ready: Promise<void>;
  failed: boolean;
  /** The current `ready` has resolved (the server subscription was confirmed). */
  confirmed: boolean;
  /** Set while the connection is down: settles `ready` once the subscription is confirmed again. */
  resume?: { resolve(): void; reject(error: unknown): void };
}

/** How long shutdown waits for pending UNSUBSCRIBEs before the connections close anyway. */
const DRAIN_TIMEOUT_MS = 1_000;

/**
 * The listener bookkeeping every event transport shares: subscriptions are reference counted
 * per channel or pattern (the first listener opens the server subscription, the last one to
 * leave shuts it), and the open and shut steps of one channel run strictly one after the
 * other, so a quick leave-and-rejoin can never end with the UNSUBSCRIBE overtaking the new
 * SUBSCRIBE. It also tracks whether each server subscription is confirmed across connection
 * losses (telling listeners through their optional `interrupted` / `resumed` hooks), and hands
 * received messages to the listeners.
 *
 * @example
 * class MyTransport implements EventTransport {
 *   private readonly subscriptions = new RefCountedSubscriptions({ open: (kind, name) => ..., shut: (kind, name) => ... });
 *   subscribe(kind, name, listener) { return this.subscriptions.subscribe(kind, name, listener); }
 *   // on a message from the server: this.subscriptions.dispatch(kind, name, channel, message)
 * }
 */
export class RefCountedSubscriptions {
  private readonly logger = new Logger('Coordination:Events');
  /** By kind, then name: a received message finds its entry without building a key. */
  private readonly entries: Readonly<Record<SubscriptionKind, Map<string, Entry>>> = { channel: new Map(), pattern: new Map() };
  private readonly chains = new Map<string, Promise<void>>();
  private readonly pending = new Set<Promise<void>>();
  /** Bumped on every connection loss, so a re-confirmation that fails for an older one is not fatal. */
  private outages = 0;

  constructor(private readonly backend: SubscriptionBackend) {}

  subscribe(kind: SubscriptionKind, name: string, listener: TransportListener): TransportSubscription {
    const entries = this.entries[kind];
    const joined = entries.get(name) ?? this.createEntry(kind, name);
    joined.listeners.add(listener);
    joined.snapshot = undefined;
    let closed = false;
    return {
      get ready() {
        return joined.ready;
      },
      close: () => {
        if (closed) return;
        closed = true;
        joined.listeners.delete(listener);
        joined.snapshot = undefined;
        if (joined.listeners.size > 0 || entries.get(name) !== joined) return;
        entries.delete(name);
        const shutting = this.serial(joined.key, async () => {
          if (!joined.failed) await this.backend.shut(kind, name);
        }).catch((error: unknown) => this.logger.warn(`Could not unsubscribe from ${name}: ${errorMessage(error)}`));
        this.pending.add(shutting);
        void shutting.finally(() => this.pending.delete(shutting));
      },
    };
  }

  /** Number of channels and patterns with at least one listener. */
  get size(): number {
    return this.entries.channel.size + this.entries.pattern.size;
  }

  /** Waits (bounded) for pending unsubscribes. */
  async drain(): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_TIMEOUT_MS)));
    await Promise.race([Promise.all(this.pending), timeout]);
    clearTimeout(timer);
  }

  /**
   * The subscriber connection is down: every confirmed subscription becomes unconfirmed, so
   * `ready` does not promise delivery while events published now would be lost, and its
   * listeners hear `interrupted()` (once per loss: a second call finds nothing confirmed).
   */
  connectionLost(): void {
    this.outages += 1;
    for (const entry of this.everyEntry()) {
      if (!entry.confirmed || entry.failed) continue;
      entry.confirmed = false;
      entry.ready = new Promise<void>((resolve, reject) => (entry.resume = { resolve, reject }));
      entry.ready.catch(() => undefined);
      this.notify(entry, 'interrupted');
    }
  }

  /**
   * The subscriber connection is back. The client may already have re-sent its subscriptions,
   * but only a reply proves one is in place: re-open each (a (P)SUBSCRIBE is idempotent on
   * the server) and confirm the entry on its reply.
   */
  connectionRestored(): void {
    const outage = this.outages;
    for (const entry of this.everyEntry()) {
      const resume = entry.resume;
      if (!resume) continue;
      this.serial(entry.key, () => this.backend.open(entry.kind, entry.name)).then(
        () => {
          if (entry.resume !== resume) return;
          entry.resume = undefined;
          entry.confirmed = true;
          resume.resolve();
          this.notify(entry, 'resumed');
        },
        (error: unknown) => {
          // Lost again meanwhile: the next restore retries.
          if (entry.resume !== resume || this.outages !== outage) return;
          entry.resume = undefined;
          this.fail(entry, error);
          resume.reject(error);
        },
      );
    }
  }

  /** Hands a received message to the listeners of one channel or pattern. */
  dispatch(kind: SubscriptionKind, name: string, channel: string, message: string): void {
    const entry = this.entries[kind].get(name);
    if (!entry) return;
    for (const listener of (entry.snapshot ??= [...entry.listeners])) {
      try {
        listener.message(channel, message);
      } catch (error) {
        this.logger.error(`An event listener on ${channel} threw: ${errorMessage(error)}`);
      }
    }
  }

  /** Calls the optional `interrupted` / `resumed` hook of every listener of one entry; a throwing hook is logged. */
  private notify(entry: Entry, hook: 'interrupted' | 'resumed'): void {
    for (const listener of (entry.snapshot ??= [...entry.listeners])) {
      try {
        listener[hook]?.();
      } catch (error) {
        this.logger.error(`The ${hook}() hook of a listener on ${entry.name} threw: ${errorMessage(error)}`);
      }
    }
  }

  private createEntry(kind: SubscriptionKind, name: string): Entry {
    const key = `${kind === 'channel' ? 'c' : 'p'}:${name}`;
    const entry: Entry = { kind, name, key, listeners: new Set(), snapshot: undefined, ready: Promise.resolve(), failed: false, confirmed: false };
    this.entries[kind].set(name, entry);
    entry.ready = this.serial(key, () => this.backend.open(kind, name)).then(
      () => {
        entry.confirmed = true;
      },
      (error: unknown) => {
        this.fail(entry, error);
        throw error;
      },
    );
    // Rejections reach listeners through failed(); awaiting `ready` stays optional.
    entry.ready.catch(() => undefined);
    return entry;
  }

  private fail(entry: Entry, error: unknown): void {
    entry.failed = true;
    const entries = this.entries[entry.kind];
    if (entries.get(entry.name) === entry) entries.delete(entry.name);
    const listeners = [...entry.listeners];
    entry.listeners.clear();
    entry.snapshot = undefined;
    for (const listener of listeners) listener.failed(error);
  }

  /** Every entry, live: one that leaves while the caller's loop runs is not visited. */
  private *everyEntry(): Generator<Entry> {
    yield* this.entries.channel.values();
    yield* this.entries.pattern.values();
  }

  /** Runs `step` after every earlier step of the same channel or pattern has settled. */
  private serial(key: string, step: () => Promise<void>): Promise<void> {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(step);
    const settled = next.catch(() => undefined);
    this.chains.set(key, settled);
    void settled.then(() => {
      if (this.chains.get(key) === settled) this.chains.delete(key);
    });
    return next;
  }
}
