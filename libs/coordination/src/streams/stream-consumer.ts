import { backoffDelay } from '../connection/backoff.js';
import { isTransportError } from '../connection/redis-errors.js';
import { RedisUnavailableError } from '../errors/coordination.error.js';
import { errorMessage } from '../events/error-message.js';
import { SHARED_TENANT } from '../keys/key-builder.js';
import type { Serializer } from '../serialization/serializer.js';
import type { TenantContext } from '../tenancy/tenant-context.js';
import { StreamAcks } from './stream-acks.js';
import { StreamGroupMissingError } from './stream-group-missing.js';
import type { ConsumerObserver } from './stream-observer.js';
import { StreamHoldings, type HeldEntry } from './stream-holdings.js';
import type { FailOutcome, StreamKeyPair, StreamReader, StreamStore } from './stream-store.interface.js';
import type { ResolvedStreamConsumerDefaults } from './stream.options.js';
import type { StreamEntry, StreamHandler, StreamSubscription } from './stream.types.js';
import { appendedAt } from './stream-validation.js';

/** Longest handler error message kept in a dead letter. */
const MAX_ERROR_LENGTH = 2_000;

/**
 * What one consumer consumes, with every option resolved.
 *
 * @example
 * const spec: ConsumerSpec = { keys, stream: 'orders', tenant: 'acme', group: 'billing', consumer: 'w1', handler, settings };
 */
export interface ConsumerSpec {
  readonly keys: StreamKeyPair;
  readonly stream: string;
  readonly tenant: string;
  readonly group: string;
  readonly consumer: string;
  readonly handler: StreamHandler;
  readonly settings: ResolvedStreamConsumerDefaults;
}

/**
 * What a consumer runs on, shared by the consumers of one StreamService.
 *
 * @example
 * const context: ConsumerContext = { store, serializer: core.serializer, tenants: core.tenants, reconnect: core.options.reconnect, deadLetterMaxLen, shutdownTimeoutMs };
 */
export interface ConsumerContext {
  readonly store: StreamStore;
  readonly serializer: Serializer;
  readonly tenants: TenantContext;
  readonly reconnect: { readonly baseDelayMs: number; readonly maxDelayMs: number };
  readonly deadLetterMaxLen: number;
  readonly shutdownTimeoutMs: number;
}

/**
 * One running consumer of a group (internal; `StreamService.consume` creates it). At start it
 * creates the group unless it exists, then drains its own pending entries (a restart under the
 * same name), then loops: an idle-claim pass every claimIdleMs/2 (entries of crashed or stalled
 * consumers, and its own failed ones), else a blocking read of new entries on its own reader.
 * It holds at most `batch + concurrency` entries (read ahead, and in flight), runs up to
 * `concurrency` handlers at once (1: in order) in the consumer's tenant context, acks the
 * successes of one tick in one XACK, and hands failures to `store.fail` (retry after
 * claimIdleMs, or the dead-letter stream). Every claimIdleMs/3 it renews what it holds, so
 * that a slow handler keeps its entry. Outages pause it with backoff; a deleted group is created again.
 *
 * @example
 * const runner = new StreamConsumerRunner(spec, context, observer, () => running.delete(runner));
 * await runner.start();
 * await runner.stop(); // in-flight handlers finish (bounded) and are acked
 */
export class StreamConsumerRunner implements StreamSubscription {
  private readonly held = new StreamHoldings();
  private readonly acks: StreamAcks;
  private readonly capacity: number;
  private reader?: StreamReader;
  private groupReady = false;
  /** Where draining the own pending entries continues; null once done. */
  private ownCursor: string | null = '0-0';
  private claimCursor = '0-0';
  private nextClaimAt = 0;
  private attempt = 0;
  private stopping = false;
  /** Set once stop() is done: late handlers leave their entries pending. */
  private closed = false;
  private loopDone?: Promise<void>;
  private stopped?: Promise<void>;
  private touchTimer?: NodeJS.Timeout;
  private touching = false;
  private wake?: () => void;

  constructor(
    private readonly spec: ConsumerSpec,
    private readonly context: ConsumerContext,
    private readonly observer: ConsumerObserver,
    private readonly onStopped: () => void,
  ) {
    this.capacity = spec.settings.batch + spec.settings.concurrency;
    const { store, reconnect } = context;
    this.acks = new StreamAcks({
      send: (ids) => store.ack(spec.keys, spec.group, ids),
      settled: (ids, acked) => {
        if (acked) observer.acked.add(ids.length);
        this.held.release(ids);
      },
      retryDelayMs: (attempt) => backoffDelay(attempt, reconnect.baseDelayMs, reconnect.maxDelayMs),
    });
  }

  get stream(): string { return this.spec.stream; }
  get group(): string { return this.spec.group; }
  get consumer(): string { return this.spec.consumer; }
  get tenant(): string { return this.spec.tenant; }

  /**
   * Opens the reader, tries to create the group once (an outage is logged, not thrown: the loop
   * retries), and starts the loop and the renewals in the consumer's tenant context, so every
   * handler runs in it without a context switch per entry.
   */
  async start(): Promise<void> {
    const { store, tenants } = this.context;
    this.reader = store.openReader();
    try {
      await store.ensureGroup(this.spec.keys, this.spec.group, this.spec.settings.startFrom);
      this.groupReady = true;
    } catch (error) {
      if (!isOutage(error)) {
        await this.reader.close();
        throw error;
      }
      this.attempt = 1; // so that the loop's first success reports the consumer resumed
      this.observer.pause(error);
    }
    if (this.stopping) return;
    const begin = () => {
      this.touchTimer = setInterval(() => void this.touch(), Math.floor(this.spec.settings.claimIdleMs / 3));
      this.touchTimer.unref();
      this.loopDone = this.loop();
    };
    // The shared namespace is no tenant id: its handlers run outside any tenant context.
    if (this.spec.tenant === SHARED_TENANT) tenants.exit(begin);
    else tenants.run(this.spec.tenant, begin);
  }

  /** False once stop() was called (also while start() was still creating the group). */
  get active(): boolean {
    return !this.stopping;
  }

  stop(): Promise<void> {
    return (this.stopped ??= this.shutdown());
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.step();
        if (this.attempt > 0) {
          this.attempt = 0;
          this.observer.resume();
        }
      } catch (error) {
        if (this.stopping) break;
        await this.recover(error);
      }
    }
  }

  /** One round trip: create the group, drain own pending, an idle-claim pass, or read new entries. */
  private async step(): Promise<void> {
    const { store } = this.context;
    const { keys, group, consumer, settings } = this.spec;
    if (!this.groupReady) {
      await store.ensureGroup(keys, group, settings.startFrom);
      this.groupReady = true;
    }
    const room = this.capacity - this.held.occupied;
    if (room <= 0) return this.pause(settings.blockMs); // woken when a handler finishes
    const { maxDeliveries } = settings;
    const deadMaxLen = this.context.deadLetterMaxLen;
    if (this.ownCursor !== null) {
      const reply = await store.claim(keys, group, consumer, { mode: 'own', after: this.ownCursor, count: room, maxDeliveries, deadMaxLen });
      this.ownCursor = reply.next;
      this.observer.givenUp(reply.deadLettered);
      this.enqueue(reply.entries);
      return;
    }
    const now = Date.now();
    if (now >= this.nextClaimAt) return this.claimIdle(room);
    const blockMs = Math.min(settings.blockMs, Math.ceil(this.nextClaimAt - now));
    const entries = await this.reader!.readNew(keys, group, consumer, Math.min(room, settings.batch), blockMs);
    this.enqueue(entries);
  }

  /** One XAUTOCLAIM of the pass (the cursor is kept between calls); the group's gauges at the start of a pass. */
  private async claimIdle(room: number): Promise<void> {
    const { store } = this.context;
    const { keys, group, consumer, settings } = this.spec;
    if (this.claimCursor === '0-0') this.observer.backlog((await store.groups(keys)).find((info) => info.group === group));
    const request = { mode: 'idle', cursor: this.claimCursor, minIdleMs: settings.claimIdleMs, count: room, maxDeliveries: settings.maxDeliveries, deadMaxLen: this.context.deadLetterMaxLen } as const;
    const reply = await store.claim(keys, group, consumer, request);
    this.observer.givenUp(reply.deadLettered);
    this.observer.reclaimed.add(this.enqueue(reply.entries));
    // A pass goes on at once until the cursor comes back round; the next one starts claimIdleMs/2 later.
    this.claimCursor = reply.next ?? '0-0';
    if (reply.next === null) this.nextClaimAt = Date.now() + settings.claimIdleMs / 2;
  }

  /** Buffers the entries this consumer does not hold yet, starts handlers, and returns how many were new. */
  private enqueue(entries: readonly HeldEntry[]): number {
    const added = this.held.take(entries);
    this.pump();
    return added;
  }

  private pump(): void {
    const { concurrency } = this.spec.settings;
    while (!this.stopping && this.held.inFlight < concurrency) {
      const entry = this.held.next();
      if (!entry) return;
      void this.handle(entry);
    }
  }

  private async handle(entry: HeldEntry): Promise<void> {
    const { spec, observer } = this;
    try {
      // A replayed dead letter is for one group only: the others ack it unhandled.
      if (entry.onlyGroup !== undefined && entry.onlyGroup !== spec.group) return this.ack(entry.id);
      let payload: unknown;
      try {
        payload = this.context.serializer.decode(entry.data);
      } catch (error) {
        // Decoding will never succeed: straight to the dead-letter stream (maxDeliveries 1).
        const outcome = await this.fail(entry.id, `cannot decode the payload: ${errorMessage(error)}`, 1);
        return observer.undecodable(entry.id, errorMessage(error), outcome === 'dead');
      }
      observer.delivered.add();
      const deliveries = entry.deliveries ?? 1;
      const started = performance.now();
      const delivered: StreamEntry = { id: entry.id, stream: spec.stream, tenant: spec.tenant, payload, appendedAt: appendedAt(entry.id), deliveries };
      try {
        await spec.handler(delivered);
      } catch (error) {
        const outcome = await this.fail(entry.id, errorMessage(error).slice(0, MAX_ERROR_LENGTH), spec.settings.maxDeliveries);
        return observer.handlerFailed(entry.id, deliveries, spec.settings.maxDeliveries, error, outcome, spec.settings.claimIdleMs);
      }
      observer.handlerMs.observe(performance.now() - started);
      this.ack(entry.id);
    } finally {
      this.held.finished(entry.id);
      this.pump();
      this.wake?.();
    }
  }

  /** `store.fail`; null when it failed too (the entry stays pending and comes back after claimIdleMs). */
  private async fail(id: string, error: string, maxDeliveries: number): Promise<FailOutcome | null> {
    let outcome: FailOutcome | null = null;
    if (!this.closed) {
      outcome = await this.context.store
        .fail(this.spec.keys, this.spec.group, this.spec.consumer, id, error, maxDeliveries, this.context.deadLetterMaxLen)
        .catch(() => null);
    }
    this.held.release([id]);
    return outcome;
  }

  private ack(id: string): void {
    if (!this.acks.add(id)) this.held.release([id]);
  }

  /** Renews every held entry; entries another consumer reclaimed meanwhile are dropped (buffered) or counted (in flight). */
  private async touch(): Promise<void> {
    const ids = this.held.all();
    if (this.touching || ids.length === 0 || this.closed) return;
    this.touching = true;
    try {
      const lost = this.held.lose(await this.context.store.touch(this.spec.keys, this.spec.group, this.spec.consumer, ids));
      if (lost.length > 0) this.observer.entriesLost(lost);
    } catch {
      // An outage or a deleted group: the loop meets it too, and reports it.
    } finally {
      this.touching = false;
    }
  }

  private async recover(error: unknown): Promise<void> {
    this.attempt += 1;
    if (error instanceof StreamGroupMissingError) {
      // Entries held from the deleted group come again from the new one (or are gone with the stream).
      this.groupReady = false;
      this.claimCursor = '0-0';
      this.held.dropBuffered();
      this.observer.groupMissing();
      if (this.attempt === 1) return;
    } else if (isOutage(error)) {
      this.observer.pause(error);
    } else {
      this.observer.unexpected(error);
    }
    const { baseDelayMs, maxDelayMs } = this.context.reconnect;
    await this.pause(backoffDelay(this.attempt, baseDelayMs, maxDelayMs));
  }

  /** Waits `ms`, or less when a handler finishes or the consumer stops. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /**
   * Stops reading (closing the reader ends a blocking read), waits up to shutdownTimeoutMs for
   * the handlers in flight, and acks those that succeeded. Buffered entries and unfinished
   * handlers' entries stay pending, for this consumer's next start or another consumer.
   */
  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.reader?.close().catch(() => undefined);
    await this.loopDone;
    this.held.dropBuffered();
    // Each handler that returns wakes the pause.
    const deadline = performance.now() + this.context.shutdownTimeoutMs;
    while (this.held.inFlight > 0 && performance.now() < deadline) await this.pause(deadline - performance.now());
    const unacked = await this.acks.close();
    this.closed = true;
    clearInterval(this.touchTimer);
    this.observer.leftPending(this.held.inFlight, unacked, this.context.shutdownTimeoutMs);
    this.onStopped();
  }
}

function isOutage(error: unknown): boolean {
  return error instanceof RedisUnavailableError || isTransportError(error);
}
