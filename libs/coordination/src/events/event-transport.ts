import { Logger } from '@nestjs/common';

/** Injection token of the {@link EventTransport} of one module instance. */
export const EVENT_TRANSPORT = Symbol('EVENT_TRANSPORT');

export type SubscriptionKind = 'channel' | 'pattern';

/** Receives the raw messages of one subscription. */
export interface TransportListener {
  /** `channel` is the full channel the message was published on (also for patterns). */
  message(channel: string, message: string): void;
  /** The server subscription could not be made; the listener is detached. */
  failed(error: unknown): void;
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

interface Entry {
  readonly listeners: Set<TransportListener>;
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
 * Moves encoded event messages between module instances. Full channel names and patterns
 * come from the KeyBuilder; this layer knows nothing about tenants.
 *
 * Subscriptions are reference counted per channel or pattern: the first listener
 * subscribes on the server, the last one to leave unsubscribes. Subscribe and unsubscribe
 * of one channel run strictly one after the other, so a quick leave-and-rejoin can never
 * end with the UNSUBSCRIBE overtaking the new SUBSCRIBE.
 */
export abstract class EventTransport {
  protected readonly logger = new Logger('Coordination:Events');
  private readonly entries = new Map<string, Entry>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly pending = new Set<Promise<void>>();
  /** Bumped on every connection loss, so a re-confirmation that fails for an older one is not fatal. */
  private outages = 0;

  /** Sends `message` to every subscriber of `channel`, in every module instance on this bus. */
  abstract publish(channel: string, message: string): Promise<void>;
  /** Makes the server subscription; called for the first listener of a channel or pattern. */
  protected abstract open(kind: SubscriptionKind, name: string): Promise<void>;
  /** Drops the server subscription; called after the last listener left. */
  protected abstract shut(kind: SubscriptionKind, name: string): Promise<void>;

  subscribe(kind: SubscriptionKind, name: string, listener: TransportListener): TransportSubscription {
    const key = entryKey(kind, name);
    let entry = this.entries.get(key);
    if (!entry) entry = this.createEntry(key, kind, name);
    const joined = entry;
    joined.listeners.add(listener);
    let closed = false;
    return {
      get ready() {
        return joined.ready;
      },
      close: () => {
        if (closed) return;
        closed = true;
        joined.listeners.delete(listener);
        if (joined.listeners.size > 0 || this.entries.get(key) !== joined) return;
        this.entries.delete(key);
        const shutting = this.serial(key, async () => {
          if (!joined.failed) await this.shut(kind, name);
        }).catch((error: unknown) => this.logger.warn(`Could not unsubscribe from ${name}: ${errorMessage(error)}`));
        this.pending.add(shutting);
        void shutting.finally(() => this.pending.delete(shutting));
      },
    };
  }

  /** Number of channels and patterns with at least one listener (server subscriptions held). */
  get activeSubscriptions(): number {
    return this.entries.size;
  }

  /** Waits (bounded) for pending unsubscribes, so shutdown leaves no subscription behind. */
  async drain(): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_TIMEOUT_MS)));
    await Promise.race([Promise.all(this.pending), timeout]);
    clearTimeout(timer);
  }

  /**
   * The subscriber connection is down: every confirmed subscription becomes unconfirmed, so
   * `ready` does not promise delivery while events published now would be lost.
   */
  protected connectionLost(): void {
    this.outages += 1;
    for (const entry of this.entries.values()) {
      if (!entry.confirmed || entry.failed) continue;
      entry.confirmed = false;
      entry.ready = new Promise<void>((resolve, reject) => (entry.resume = { resolve, reject }));
      entry.ready.catch(() => undefined);
    }
  }

  /**
   * The subscriber connection is back. The client may already have re-sent its subscriptions,
   * but only a reply proves one is in place: re-issue each (P)SUBSCRIBE (idempotent on the
   * server) and confirm the entry on its reply.
   */
  protected connectionRestored(): void {
    const outage = this.outages;
    for (const [key, entry] of this.entries) {
      const resume = entry.resume;
      if (!resume) continue;
      const { kind, name } = parseEntryKey(key);
      this.serial(key, () => this.open(kind, name)).then(
        () => {
          if (entry.resume !== resume) return;
          entry.resume = undefined;
          entry.confirmed = true;
          resume.resolve();
        },
        (error: unknown) => {
          // Lost again meanwhile: the next restore retries.
          if (entry.resume !== resume || this.outages !== outage) return;
          entry.resume = undefined;
          this.fail(key, entry, error);
          resume.reject(error);
        },
      );
    }
  }

  /** Hands a received message to the listeners of one channel or pattern. */
  protected dispatch(kind: SubscriptionKind, name: string, channel: string, message: string): void {
    const entry = this.entries.get(entryKey(kind, name));
    if (!entry) return;
    // A listener may leave while we iterate (take(1) unsubscribes inside next()).
    for (const listener of [...entry.listeners]) {
      try {
        listener.message(channel, message);
      } catch (error) {
        this.logger.error(`An event listener on ${channel} threw: ${errorMessage(error)}`);
      }
    }
  }

  private createEntry(key: string, kind: SubscriptionKind, name: string): Entry {
    const entry: Entry = { listeners: new Set(), ready: Promise.resolve(), failed: false, confirmed: false };
    this.entries.set(key, entry);
    entry.ready = this.serial(key, () => this.open(kind, name)).then(
      () => {
        entry.confirmed = true;
      },
      (error: unknown) => {
        this.fail(key, entry, error);
        throw error;
      },
    );
    // Rejections reach listeners through failed(); awaiting `ready` stays optional.
    entry.ready.catch(() => undefined);
    return entry;
  }

  private fail(key: string, entry: Entry, error: unknown): void {
    entry.failed = true;
    if (this.entries.get(key) === entry) this.entries.delete(key);
    const listeners = [...entry.listeners];
    entry.listeners.clear();
    for (const listener of listeners) listener.failed(error);
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

function entryKey(kind: SubscriptionKind, name: string): string {
  return `${kind === 'channel' ? 'c' : 'p'}:${name}`;
}

function parseEntryKey(key: string): { kind: SubscriptionKind; name: string } {
  return { kind: key.startsWith('c:') ? 'channel' : 'pattern', name: key.slice(2) };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
