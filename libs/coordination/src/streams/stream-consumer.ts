import { backoffDelay } from '../connection/backoff.js';
import { SHARED_TENANT } from '../keys/key-builder.js';
import { ConsumerHandlers } from './stream-consumer-handlers.js';
import type { ConsumerContext, ConsumerSpec } from './stream-consumer-spec.js';
import { Wakeup, pause } from './stream-consumer-timing.js';
import { ConsumerUpkeep } from './stream-consumer-upkeep.js';
import { StreamGroupMissingError } from './stream-group-missing.js';
import { isOutage, type ConsumerObserver } from './stream-observer.js';
import type { StreamReader } from './stream-store.interface.js';
import type { StreamSubscription } from './stream.types.js';

/** How long a read blocks while the consumer recovers from an outage: briefly, so that it notices (and says) at once that it reads again. */
const RECOVERY_BLOCK_MS = 100;

/**
 * One running consumer of a group (internal; `StreamService.consume` creates it). At start it
 * creates the group unless it exists, then drains its own pending entries (a restart under the
 * same name), then loops: an idle-claim pass every claimIdleMs/2 (entries of crashed or stalled
 * consumers, and its own failed ones; its own held entries renewed first), else a blocking read
 * of new entries on its own reader. It holds at most `batch + concurrency` entries and reads
 * when a whole batch fits or its read-ahead runs low, else waits for a handler to finish (see
 * ConsumerHandlers). Every claimIdleMs/3 it renews what it holds, and refreshes the group's
 * gauges every claimIdleMs/2. An outage pauses it with backoff; once Redis answers again it
 * renews what it holds and sends its acks first, and claims nothing for a claimIdleMs, so that
 * every live consumer renews its entries before anyone takes them for abandoned (their idle time
 * on the server grew through the outage). Reads failing alone (its own connection lost while
 * commands work) pause its reading only: its idle passes go on. A deleted group is created again.
 *
 * @example
 * const runner = new StreamConsumerRunner(spec, context, observer, () => running.delete(runner));
 * await runner.start();
 * await runner.stop(); // in-flight handlers finish (bounded) and are acked; the read-ahead is handed back
 */
export class StreamConsumerRunner implements StreamSubscription {
  private readonly handlers: ConsumerHandlers;
  private readonly upkeep: ConsumerUpkeep;
  private readonly wakeup = new Wakeup();
  private readonly stopping = new AbortController();
  private readonly capacity: number;
  /** Read-ahead this low (or room for a whole batch) and the consumer reads more. */
  private readonly lowWater: number;
  private reader?: StreamReader;
  private groupReady = false;
  /** Where draining the own pending entries continues; null once done. */
  private ownCursor: string | null = '0-0';
  private claimCursor = '0-0';
  /** When the next idle-claim pass is due (performance.now()), and the timer that wakes the loop then. */
  private nextClaimAt = 0;
  private claimTimer?: NodeJS.Timeout;
  private attempt = 0;
  /** The last read failed for an outage: the consumer has not resumed until a read succeeds. */
  private readerLost = false;
  /** An outage happened: renew, send the acks and wait a claimIdleMs before claiming again. */
  private resync = false;
  /** The step that just failed was a read (its own connection): no sign that the command connection, renewals included, failed. */
  private readFailed = false;
  private loopDone?: Promise<void>;
  private stopped?: Promise<void>;

  constructor(
    private readonly spec: ConsumerSpec,
    private readonly context: ConsumerContext,
    private readonly observer: ConsumerObserver,
    private readonly onStopped: () => void,
  ) {
    const { batch, concurrency } = spec.settings;
    this.capacity = batch + concurrency;
    this.lowWater = Math.min(concurrency, Math.floor(batch / 2));
    this.handlers = new ConsumerHandlers(spec, context, observer, () => this.wakeup.wake());
    this.upkeep = new ConsumerUpkeep(spec, context, observer, this.handlers.held, () => (this.resync = true));
  }

  get stream(): string { return this.spec.stream; }
  get group(): string { return this.spec.group; }
  get consumer(): string { return this.spec.consumer; }
  get tenant(): string { return this.spec.tenant; }

  /**
   * Opens the reader, tries to create the group once (an outage is logged, not thrown: the loop
   * retries), and starts the loop, the renewals and the gauges in the consumer's tenant context,
   * so every handler runs in it without a context switch per entry.
   */
  async start(): Promise<void> {
    const { store, tenants } = this.context;
    this.reader = store.openReader();
    this.upkeep.keepGauges(true);
    try {
      await this.createGroup();
    } catch (error) {
      if (!isOutage(error)) {
        this.upkeep.keepGauges(false);
        await this.reader.close();
        throw error;
      }
      this.attempt = 1; // so that the loop's first success reports the consumer resumed
      this.resync = true;
      this.observer.pause(error);
    }
    if (!this.active) return;
    const begin = () => {
      this.upkeep.start();
      this.loopDone = this.loop();
    };
    // The shared namespace is no tenant id: its handlers run outside any tenant context.
    if (this.spec.tenant === SHARED_TENANT) tenants.exit(begin);
    else tenants.run(this.spec.tenant, begin);
  }

  /** False once stop() was called (also while start() was still creating the group). */
  get active(): boolean {
    return !this.stopping.signal.aborted;
  }

  stop(): Promise<void> {
    return (this.stopped ??= this.shutdown());
  }

  private async loop(): Promise<void> {
    while (this.active) {
      try {
        const answered = await this.step();
        if (answered && this.attempt > 0 && !this.readerLost) {
          this.attempt = 0;
          this.observer.resume();
        }
      } catch (error) {
        if (!this.active) break;
        await this.recover(error);
      }
    }
  }

  /**
   * One thing, of which only a round trip to Redis returns true: create the group, catch up after
   * an outage, drain own pending, an idle-claim call, a read of new entries; or wait for room.
   * The loop checks for a stop between two steps, and a step between two of its round trips.
   */
  private async step(): Promise<boolean> {
    if (!this.groupReady) {
      await this.createGroup();
      return true;
    }
    if (this.resync) {
      await this.catchUp();
      return false; // the next round trip tells whether the consumer resumed
    }
    const room = this.capacity - this.handlers.held.occupied;
    if (room > 0 && this.ownCursor !== null) {
      await this.drainOwn(room);
      return true;
    }
    if (room > 0 && performance.now() >= this.nextClaimAt) {
      await this.claimIdle(room);
      return true;
    }
    if (room >= this.spec.settings.batch || (room > 0 && this.handlers.held.buffered <= this.lowWater)) {
      await this.readNew(room);
      return true;
    }
    await this.wakeup.wait(); // a handler finished, a claim pass is due, or the consumer stops
    return false;
  }

  /** Creates the group unless it exists, and shows its gauges at once. */
  private async createGroup(): Promise<void> {
    await this.context.store.ensureGroup(this.spec.keys, this.spec.group, this.spec.settings.startFrom);
    this.groupReady = true;
    if (this.active) await this.upkeep.refreshGauges();
  }

  /** After an outage: renew what it holds, send the acks kept meanwhile, and give every consumer a claimIdleMs to do the same before claiming. */
  private async catchUp(): Promise<void> {
    await this.upkeep.renew();
    if (!this.active) return;
    await this.handlers.flushAcks();
    this.resync = false;
    this.scheduleClaims(this.spec.settings.claimIdleMs);
  }

  private async drainOwn(room: number): Promise<void> {
    const { keys, group, consumer, settings } = this.spec;
    const request = { mode: 'own', after: this.ownCursor!, count: room, maxDeliveries: settings.maxDeliveries, deadMaxLen: this.context.deadLetterMaxLen } as const;
    const reply = await this.context.store.claim(keys, group, consumer, request);
    this.ownCursor = reply.next;
    this.observer.givenUp(reply.deadLettered);
    this.observer.trimmedAway(reply.trimmed);
    this.handlers.enqueue(reply.entries);
  }

  /** One XAUTOCLAIM of the pass (the cursor is kept between calls); a pass starts with renewing what it holds, and now and then a prune. */
  private async claimIdle(room: number): Promise<void> {
    const { store } = this.context;
    const { keys, group, consumer, settings } = this.spec;
    if (this.claimCursor === '0-0') {
      // Renewals that lapsed must not let its own pass take back (and count, or dead-letter) an entry whose handler runs.
      await this.upkeep.renew();
      if (!this.active) return;
      await this.upkeep.prune();
      if (!this.active) return;
    }
    const request = { mode: 'idle', cursor: this.claimCursor, minIdleMs: settings.claimIdleMs, count: room, maxDeliveries: settings.maxDeliveries, deadMaxLen: this.context.deadLetterMaxLen } as const;
    const reply = await store.claim(keys, group, consumer, request);
    this.observer.givenUp(reply.deadLettered);
    this.observer.trimmedAway(reply.trimmed);
    this.observer.reclaimed.add(this.handlers.enqueue(reply.entries));
    // A pass goes on at once until the cursor comes back round; the next one starts claimIdleMs/2 later.
    this.claimCursor = reply.next ?? '0-0';
    if (reply.next === null) this.scheduleClaims(settings.claimIdleMs / 2);
  }

  private async readNew(room: number): Promise<void> {
    const { keys, group, consumer, settings } = this.spec;
    const untilClaims = Math.max(1, Math.ceil(this.nextClaimAt - performance.now()));
    const blockMs = Math.min(this.attempt > 0 ? RECOVERY_BLOCK_MS : settings.blockMs, untilClaims);
    try {
      this.handlers.enqueue(await this.reader!.readNew(keys, group, consumer, Math.min(room, settings.batch), blockMs));
      this.readerLost = false;
    } catch (error) {
      // Its connection was lost, or is not back yet (a claim on the command connection may work meanwhile).
      this.readerLost = isOutage(error);
      this.readFailed = true;
      throw error;
    }
  }

  /** The next idle-claim pass in `delayMs`; a timer wakes the loop if it waits for room then. */
  private scheduleClaims(delayMs: number): void {
    this.nextClaimAt = performance.now() + delayMs;
    clearTimeout(this.claimTimer);
    this.claimTimer = setTimeout(() => this.wakeup.wake(), delayMs);
  }

  private async recover(error: unknown): Promise<void> {
    this.attempt += 1;
    const onReader = this.readFailed;
    this.readFailed = false;
    if (error instanceof StreamGroupMissingError) {
      // Entries held from the deleted group come again from the new one (or are gone with the stream).
      this.groupReady = false;
      this.claimCursor = '0-0';
      this.handlers.held.dropBuffered();
      this.observer.groupMissing();
      if (this.attempt === 1) return;
    } else if (isOutage(error)) {
      // Only a failure of the command connection (renewals, claims, acks) defers the claims: a lost
      // read connection alone (a proxy or CLIENT KILL ending blocked reads) must not stop the idle
      // passes that take over crashed peers' entries; a real outage fails a command soon enough.
      if (!onReader) this.resync = true;
      this.observer.pause(error);
    } else {
      this.observer.unexpected(error);
    }
    // Only stop() ends the backoff early: a handler that finishes is no sign that Redis is back.
    const { baseDelayMs, maxDelayMs } = this.context.reconnect;
    await pause(backoffDelay(this.attempt, baseDelayMs, maxDelayMs), this.stopping.signal);
  }

  /**
   * Stops reading (closing the reader ends a blocking read), hands the read-ahead back (another
   * consumer's next idle claim takes it at once, with no delivery counted), waits up to
   * shutdownTimeoutMs for the handlers in flight, and acks those that succeeded. Unfinished
   * handlers' entries stay pending, for this consumer's next start or another consumer.
   */
  private async shutdown(): Promise<void> {
    this.stopping.abort();
    this.handlers.stopStarting();
    this.wakeup.wake();
    await this.reader?.close().catch(() => undefined);
    await this.loopDone;
    clearTimeout(this.claimTimer);
    const handedBack = this.handBack(this.handlers.held.dropBuffered());
    const deadline = performance.now() + this.context.shutdownTimeoutMs;
    while (this.handlers.held.inFlight > 0 && performance.now() < deadline) await this.finishedOr(deadline - performance.now());
    await handedBack;
    const unacked = await this.handlers.close();
    this.upkeep.stop();
    this.observer.leftPending(this.handlers.held.inFlight, unacked, this.context.shutdownTimeoutMs);
    this.onStopped();
  }

  private async handBack(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const { keys, group, consumer, settings } = this.spec;
    await this.context.store.release(keys, group, consumer, ids, settings.claimIdleMs).catch(() => undefined);
  }

  /** Waits until a handler finishes, or `ms`. */
  private async finishedOr(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.wakeup.wait(), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }
}
