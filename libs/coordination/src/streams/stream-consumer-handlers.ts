import { backoffDelay } from '../connection/backoff.js';
import { errorMessage } from '../events/error-message.js';
import { StreamAcks } from './stream-acks.js';
import type { ConsumerContext, ConsumerSpec } from './stream-consumer-spec.js';
import { StreamHoldings, type HeldEntry } from './stream-holdings.js';
import type { ConsumerObserver } from './stream-observer.js';
import type { FailOutcome } from './stream-store.interface.js';
import type { StreamEntry } from './stream.types.js';
import { appendedAt } from './stream-validation.js';
import { streamConsume } from './stream.spans.js';
import type { TracedOperation } from '../telemetry/tracing.js';

/** Longest handler error message kept in a dead letter. */
const MAX_ERROR_LENGTH = 2_000;

/**
 * The handler side of one consumer: what it holds (StreamHoldings), up to `concurrency`
 * handlers at once in delivery order, the acks of the successes (coalesced per tick by
 * StreamAcks), and `store.fail` for the failures (retry after claimIdleMs, or the dead-letter
 * stream). An undecodable payload goes straight to the dead letters (decoding will never
 * succeed). `onFinished` runs after every handler: the consumer's loop waits on it for room.
 *
 * @example
 * const handlers = new ConsumerHandlers(spec, context, observer, () => wakeup.wake());
 * handlers.enqueue(await reader.readNew(keys, group, consumer, 10, 5_000));
 * const unacked = await handlers.close(); // at stop
 */
export class ConsumerHandlers {
  readonly held = new StreamHoldings();
  private readonly acks: StreamAcks;
  private readonly span: TracedOperation<unknown>;
  /** False once the consumer stops: what is read ahead stays unstarted. */
  private starting = true;
  /** Set once closed: late handlers leave their entries pending. */
  private closed = false;

  constructor(
    private readonly spec: ConsumerSpec,
    private readonly context: ConsumerContext,
    private readonly observer: ConsumerObserver,
    private readonly onFinished: () => void,
  ) {
    const { store, reconnect } = context;
    this.span = streamConsume(spec.group);
    this.acks = new StreamAcks({
      send: (ids) => store.ack(spec.keys, spec.group, ids),
      settled: (ids, acked) => {
        if (acked) observer.acked.add(ids.length);
        this.held.release(ids);
      },
      retryDelayMs: (attempt) => backoffDelay(attempt, reconnect.baseDelayMs, reconnect.maxDelayMs),
    });
  }

  /** Buffers the entries not held yet, starts handlers, and returns how many were new. */
  enqueue(entries: readonly HeldEntry[]): number {
    const added = this.held.take(entries);
    this.pump();
    return added;
  }

  /** Starts no more handlers (the consumer stops): the entries read ahead stay buffered. */
  stopStarting(): void {
    this.starting = false;
  }

  /** Sends the acks kept during an outage now (see StreamAcks.flush). */
  flushAcks(): Promise<void> {
    return this.acks.flush();
  }

  /** Sends the last acks; handlers finishing later leave their entries pending. Returns how many acks could not be sent. */
  async close(): Promise<number> {
    const unacked = await this.acks.close();
    this.closed = true;
    return unacked;
  }

  private pump(): void {
    const { concurrency } = this.spec.settings;
    while (this.starting && this.held.inFlight < concurrency) {
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
        return observer.undecodable(entry.id, errorMessage(error), outcome);
      }
      observer.delivered.add();
      const deliveries = entry.deliveries ?? 1;
      const started = performance.now();
      const delivered: StreamEntry = { id: entry.id, stream: spec.stream, tenant: spec.tenant, payload, appendedAt: appendedAt(entry.id), deliveries };
      try {
        await this.context.tracer.trace(this.span, spec.tenant, spec.stream, async () => spec.handler(delivered), entry.id);
      } catch (error) {
        const outcome = await this.fail(entry.id, errorMessage(error).slice(0, MAX_ERROR_LENGTH), spec.settings.maxDeliveries);
        return observer.handlerFailed(entry.id, deliveries, spec.settings.maxDeliveries, error, outcome, spec.settings.claimIdleMs);
      }
      observer.handlerMs.observe(performance.now() - started);
      this.ack(entry.id);
    } finally {
      this.held.finished(entry.id);
      this.pump();
      this.onFinished();
    }
  }

  /** `store.fail`; null when it failed too (the entry stays pending and comes back after claimIdleMs). */
  private async fail(id: string, error: string, maxDeliveries: number): Promise<FailOutcome | null> {
    let outcome: FailOutcome | null = null;
    if (!this.closed) {
      const { keys, group, consumer } = this.spec;
      outcome = await this.context.store.fail(keys, group, consumer, id, error, maxDeliveries, this.context.deadLetterMaxLen).catch(() => null);
    }
    this.held.release([id]);
    return outcome;
  }

  private ack(id: string): void {
    if (!this.acks.add(id)) this.held.release([id]);
  }
}
