import { Logger } from '@nestjs/common';
import type { CoordinationCore } from '../core/coordination-core.js';
import { errorMessage } from '../events/error-message.js';
import type { EventTransport, TransportSubscription } from '../events/event-transport.interface.js';
import { SHARED_TENANT } from '../keys/key-builder.js';
import type { CacheL1 } from './cache-l1.js';

/**
 * What a bus message invalidates: entry keys, tag counter keys, SCAN patterns, or a tenant's whole cache.
 *
 * @example
 * await bus.publish('acme', 'tags', [keys.key('acme', 'cache-tag', 'crew:7')]);
 */
export type CacheBusKind = 'keys' | 'tags' | 'pattern' | 'clear';

/**
 * How a `waitFor` ended: what it waits for changed (a write or invalidation of the key, or of its
 * tenant, or the bus resumed after an interruption: re-read), the key's lease holder ended without
 * storing a value (`no-value`: its loader threw or returned undefined; nothing to re-read), or
 * the wait ended without news (`ended`: its time was up, cancel, close).
 *
 * @example
 * const wake = bus.waitFor(entryKey, 250);
 * if ((await wake.promise) === 'no-value') return loadHere();
 */
export type CacheWake = 'changed' | 'no-value' | 'ended';

/**
 * The wire format: `{ o: instanceId, t: tenant, k: kind, v: full keys / tag keys / patterns }` as
 * JSON; `n: true` on a 'keys' message: their lease holders stored nothing (an instance that does
 * not know `n` reads it as a plain 'keys' message: it drops and re-reads, which stays correct).
 */
interface CacheBusMessage {
  readonly o: string;
  readonly t: string;
  readonly k: CacheBusKind;
  readonly v: readonly string[];
  readonly n?: true;
}

interface Waiter {
  readonly fullKey: string;
  readonly resolve: (wake: CacheWake) => void;
  timer?: NodeJS.Timeout;
  settled: boolean;
}

/** Capability segment of the keys this bus names; the channel is `<prefix>:_shared:cache:bus`. */
const CACHE_SEGMENT = 'cache';
const KINDS: ReadonlySet<string> = new Set<CacheBusKind>(['keys', 'tags', 'pattern', 'clear']);
const MALFORMED_METRIC = 'cache_bus_malformed_total';
const SUBSCRIBE_FAILED_METRIC = 'cache_bus_subscribe_failed_total';

/**
 * The fleet bus of the cache: one subscription per module instance on
 * `keys.channel(SHARED_TENANT, 'cache', 'bus')` of the EventTransport. Every write and
 * invalidation publishes a message naming full keys; every instance receiving it drops the
 * matching L1 entries and wakes the `getOrSet` callers waiting for another instance's loader
 * (`waitFor`). The publisher applies its message locally at once; when its own message comes
 * back it only wakes waiters (dropping again would bump the L1 generation a second time). A
 * lease holder that stored nothing says so (`publishNoValue`): its waiters wake with `no-value`
 * and call their own loaders at once, instead of queueing for the lease one after another.
 *
 * While the subscription is not confirmed (before the first confirmation, after a connection
 * loss, after a failed subscribe) invalidations can be missed, so the L1 is suspended (cleared
 * and bypassed) and cleared again once the subscription is confirmed. A subscribe that failed
 * is retried every `reconnect.maxDelayMs`.
 *
 * @example
 * const bus = new CacheBus(core, transport, l1);
 * bus.start();
 * await bus.ready(1_000);
 * const wait = bus.waitFor(entryKey, 5_000); // before re-reading the entry
 * if ((await wait.promise) === 'changed') await store.get(entryKey); // the holder published: re-read
 * await bus.publish('acme', 'keys', [entryKey]); // after writing it
 * await bus.publishNoValue('acme', [entryKey]); // after releasing its lease without writing it
 */
export class CacheBus {
  private readonly logger = new Logger('Coordination:Cache');
  private readonly channel: string;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly readyWaiters = new Set<(confirmed: boolean) => void>();
  private subscription?: TransportSubscription;
  private retryTimer?: NodeJS.Timeout;
  private started = false;
  private isClosed = false;
  private confirmed = false;

  constructor(
    private readonly core: CoordinationCore,
    private readonly transport: EventTransport,
    private readonly l1: CacheL1,
  ) {
    this.channel = core.keys.channel(SHARED_TENANT, CACHE_SEGMENT, 'bus');
  }

  /** Whether `close` was called: no message is received or waited for any more. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Subscribes to the bus; the L1 stays suspended until the subscription is confirmed. Idempotent. */
  start(): void {
    if (this.started || this.isClosed) return;
    this.started = true;
    this.l1.suspend();
    this.subscribe();
  }

  /** Resolves true once the subscription is confirmed (now or later), false after `timeoutMs` or on close; never rejects. */
  ready(timeoutMs: number): Promise<boolean> {
    if (this.confirmed) return Promise.resolve(true);
    if (this.isClosed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = (confirmed: boolean): void => {
        clearTimeout(timer);
        this.readyWaiters.delete(done);
        resolve(confirmed);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      timer.unref();
      this.readyWaiters.add(done);
    });
  }

  /**
   * Applies the drop to this instance's L1 and wakes its waiters, then publishes it to the
   * fleet. Throws what the transport throws (RedisUnavailableError, CircuitOpenError): a lost
   * invalidation must not be silent.
   */
  async publish(tenant: string, kind: CacheBusKind, values: readonly string[]): Promise<void> {
    this.apply(tenant, kind, values, true);
    const message: CacheBusMessage = { o: this.core.instanceId, t: tenant, k: kind, v: values };
    await this.transport.publish(this.channel, JSON.stringify(message));
  }

  /**
   * Tells the fleet that the lease holders of these entries released their leases without
   * storing a value (a loader threw or returned undefined): their waiters, here at once and on
   * every instance, wake with `no-value`. Nothing is dropped from any L1 (nothing was written).
   * Throws what the transport throws.
   */
  async publishNoValue(tenant: string, fullKeys: readonly string[]): Promise<void> {
    for (const fullKey of fullKeys) this.wakeKey(fullKey, 'no-value');
    const message: CacheBusMessage = { o: this.core.instanceId, t: tenant, k: 'keys', v: fullKeys, n: true };
    await this.transport.publish(this.channel, JSON.stringify(message));
  }

  /**
   * Waits for a 'keys' message naming `fullKey` (from any instance, this one included), a
   * 'tags', 'pattern' or 'clear' message of its tenant, or the bus resuming after an
   * interruption (messages may have been lost): resolves `changed`; `no-value` when the message
   * says the key's lease holder stored nothing (`publishNoValue`). Resolves `ended` after
   * `timeoutMs`, on `cancel()` or on close. Registered at the call: call it before re-reading.
   */
  waitFor(fullKey: string, timeoutMs: number): { readonly promise: Promise<CacheWake>; cancel(): void } {
    if (this.isClosed) return { promise: Promise.resolve<CacheWake>('ended'), cancel: () => undefined };
    let waiter!: Waiter;
    const promise = new Promise<CacheWake>((resolve) => {
      waiter = { fullKey, resolve, settled: false };
    });
    waiter.timer = setTimeout(() => this.settle(waiter, 'ended'), timeoutMs);
    waiter.timer.unref();
    let waiting = this.waiters.get(fullKey);
    if (!waiting) this.waiters.set(fullKey, (waiting = new Set()));
    waiting.add(waiter);
    return { promise, cancel: () => this.settle(waiter, 'ended') };
  }

  /** Unsubscribes, suspends the L1 (nothing keeps it coherent any more) and resolves pending waiters `ended`. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.confirmed = false;
    clearTimeout(this.retryTimer);
    this.subscription?.close();
    this.subscription = undefined;
    this.l1.suspend();
    for (const done of [...this.readyWaiters]) done(false);
    for (const waiting of [...this.waiters.values()]) for (const waiter of [...waiting]) this.settle(waiter, 'ended');
  }

  private subscribe(): void {
    const subscription: TransportSubscription = this.transport.subscribe('channel', this.channel, {
      message: (_channel, text) => this.receive(text),
      failed: (error) => this.subscriptionFailed(subscription, error),
      interrupted: () => this.interrupted(),
      resumed: () => this.confirm(true),
    });
    this.subscription = subscription;
    subscription.ready.then(
      () => {
        if (this.subscription === subscription) this.confirm(false);
      },
      () => undefined, // failed() handles it
    );
  }

  private interrupted(): void {
    this.confirmed = false;
    this.l1.suspend();
  }

  /** The subscription is confirmed: L1 is coherent again. After an outage, waiters re-check what they wait for. */
  private confirm(afterOutage: boolean): void {
    if (this.isClosed) return;
    this.confirmed = true;
    this.l1.resume();
    for (const done of [...this.readyWaiters]) done(true);
    if (afterOutage) this.wakeAll(() => true);
  }

  private subscriptionFailed(subscription: TransportSubscription, error: unknown): void {
    if (this.isClosed || this.subscription !== subscription) return;
    this.subscription = undefined;
    this.interrupted();
    this.core.metrics.increment(SUBSCRIBE_FAILED_METRIC);
    const retryMs = this.core.options.reconnect.maxDelayMs;
    this.logger.warn(`Could not subscribe to the cache bus (L1 bypassed until it is; retrying in ${retryMs} ms): ${errorMessage(error)}`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.isClosed) this.subscribe();
    }, retryMs);
    this.retryTimer.unref();
  }

  private receive(text: string): void {
    const message = parseMessage(text);
    try {
      if (!message) throw new Error('not a cache bus message');
      if (message.n === true) {
        // A lease released without a value: nothing changed, nothing to drop. Our own woke our
        // waiters when it was published; waking them again would hit later, unrelated waits.
        this.core.keys.namespace(message.t, CACHE_SEGMENT); // validates the tenant, as for the other messages
        if (message.o !== this.core.instanceId) for (const fullKey of message.v) this.wakeKey(fullKey, 'no-value');
        return;
      }
      // Our own message: publish() dropped these entries already. Dropping them again would bump
      // the generation a second time, at a moment racing the publish reply, and refuse the L1
      // store of a value this instance just wrote.
      this.apply(message.t, message.k, message.v, message.o !== this.core.instanceId);
    } catch (error) {
      this.core.metrics.increment(MALFORMED_METRIC);
      this.logger.debug(`Ignored a malformed cache bus message: ${errorMessage(error)}`);
    }
  }

  /** Drops the L1 entries a message names (unless `dropL1` is off), then wakes the waiters it concerns. Throws on an invalid tenant. */
  private apply(tenant: string, kind: CacheBusKind, values: readonly string[], dropL1: boolean): void {
    if (kind === 'keys') {
      if (dropL1) this.l1.deleteKeys(values);
      for (const fullKey of values) this.wakeKey(fullKey, 'changed');
      return;
    }
    // Validates the tenant before anything is dropped.
    const namespace = this.core.keys.namespace(tenant, CACHE_SEGMENT);
    if (dropL1) this.dropWide(tenant, kind, values);
    this.wakeAll((fullKey) => fullKey.startsWith(namespace));
  }

  private dropWide(tenant: string, kind: Exclude<CacheBusKind, 'keys'>, values: readonly string[]): void {
    if (kind === 'tags') this.l1.deleteTags(values);
    else if (kind === 'pattern') for (const pattern of values) this.l1.deletePattern(pattern, tenant);
    else this.l1.clearTenant(tenant);
  }

  private wakeKey(fullKey: string, wake: CacheWake): void {
    const waiting = this.waiters.get(fullKey);
    if (waiting) for (const waiter of [...waiting]) this.settle(waiter, wake);
  }

  private wakeAll(concerns: (fullKey: string) => boolean): void {
    for (const [fullKey, waiting] of [...this.waiters]) {
      if (concerns(fullKey)) for (const waiter of [...waiting]) this.settle(waiter, 'changed');
    }
  }

  private settle(waiter: Waiter, wake: CacheWake): void {
    if (waiter.settled) return;
    waiter.settled = true;
    clearTimeout(waiter.timer);
    const waiting = this.waiters.get(waiter.fullKey);
    waiting?.delete(waiter);
    if (waiting?.size === 0) this.waiters.delete(waiter.fullKey);
    waiter.resolve(wake);
  }
}

/** The message in `text`, or undefined when it is not one (never throws: anyone can publish on a channel). */
function parseMessage(text: string): CacheBusMessage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { o, t, k, v, n } = parsed as Record<string, unknown>;
  if (typeof o !== 'string' || typeof t !== 'string' || typeof k !== 'string' || !KINDS.has(k)) return undefined;
  if (!Array.isArray(v) || !v.every((value) => typeof value === 'string')) return undefined;
  if (n !== undefined && (n !== true || k !== 'keys')) return undefined;
  return n === true ? { o, t, k: 'keys', v, n } : { o, t, k: k as CacheBusKind, v };
}
