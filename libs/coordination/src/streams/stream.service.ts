import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { DeserializationError } from '../serialization/serialization.errors.js';
import type { ConsumerContext } from './stream-consumer-spec.js';
import { STREAM_APPEND } from './stream.spans.js';
import { StreamConsumerRunner } from './stream-consumer.js';
import { StreamKeys } from './stream-keys.js';
import { StreamObserver } from './stream-observer.js';
import { STREAM_STORE, type RawEntry, type StreamKeyPair, type StreamStore } from './stream-store.interface.js';
import { DeadLetterNotFoundError, StreamShutdownError } from './stream.errors.js';
import { STREAM_OPTIONS, type ResolvedStreamOptions } from './stream.options.js';
import type {
  AppendOptions, ConsumeOptions, DeadLetter, DeadLetterReadOptions, PendingSummary, ReadOptions, ReplayResult, StreamEntry,
  StreamGroupInfo, StreamHandler, StreamRef, StreamSubscription,
} from './stream.types.js';
import {
  LAST_ENTRY_ID, appendedAt, checkCount, checkEntryId, checkGroupName, checkHandler, checkMaxLen, checkOptions, consumerSettings, definitionMaxLen, streamName,
} from './stream-validation.js';

/** Page size of `read` and `deadLetters` without a `count`. */
const DEFAULT_PAGE = 100;
/** Streams whose keys one service remembers per tenant (and tenants it remembers) before it starts over. */
const MAX_REMEMBERED_KEYS = 10_000;

/**
 * Durable event streams: an append-only log per tenant and name (a Redis Stream) that keeps what
 * is appended while consumers are away, unlike the EventBus (pub/sub).
 *
 * - **append** serializes the event (Dates, Maps, BigInts come back as they went in) and adds it
 *   with one `XADD MAXLEN ~` (approximate trimming: the definition's `maxLen`, else `streams.maxLen`).
 *   Redis unreachable: it throws RedisUnavailableError, never drops the event silently.
 * - **consume** runs a consumer of a group with at-least-once delivery: an entry is acked after
 *   its handler succeeds; the consumer's own pending entries are drained first when it starts
 *   (keep `consumer` stable across restarts); entries of crashed consumers are reclaimed after
 *   `claimIdleMs`; an entry whose handler failed `maxDeliveries` times moves to the stream's
 *   dead-letter stream with the error and the delivery count, and is acked. Consumers read on
 *   connections of their own, pause while Redis is unreachable and resume with it, and stop
 *   with the application (in-flight handlers finish, bounded by `streams.shutdownTimeoutMs`;
 *   entries read ahead are handed back, uncounted, to the group's other consumers).
 * - **read**, **length**, **pending**, **groups**, **deadLetters**, **replayDeadLetter**:
 *   replay and inspection.
 * - **Tenants**: every method works on the stream of the call's tenant (`options.tenant`, else
 *   the tenant context); handlers run in their consumer's tenant context.
 * - **Bad input** throws InvalidArgumentError naming the argument (or TenantInvalidError,
 *   TenantRequiredError) before any Redis call.
 *
 * @example
 * const ORDERS = defineStream<{ orderId: string; total: number }>('orders');
 * await streams.append(ORDERS, { orderId: 'o-1', total: 42 });
 * const subscription = await streams.consume(ORDERS, 'billing', async (entry) => bill(entry.payload), { concurrency: 4 });
 * await subscription.stop();
 */
@Injectable()
export class StreamService implements BeforeApplicationShutdown {
  private readonly consumers = new Map<string, StreamConsumerRunner>();
  private readonly keyPairs = new Map<string, Map<string, StreamKeyPair>>();
  private readonly context: ConsumerContext;
  private stopping = false;

  constructor(
    private readonly core: CoordinationCore,
    @Inject(STREAM_OPTIONS) private readonly options: ResolvedStreamOptions,
    @Inject(STREAM_STORE) private readonly store: StreamStore,
    private readonly keys: StreamKeys,
    private readonly observer: StreamObserver,
  ) {
    const { deadLetterMaxLen, shutdownTimeoutMs } = options;
    this.context = { store, serializer: core.serializer, tenants: core.tenants, reconnect: core.options.reconnect, deadLetterMaxLen, shutdownTimeoutMs, tracer: core.telemetry.tracer };
  }

  /**
   * Appends `event` to the stream of the call's tenant and returns its id (`<ms>-<seq>`).
   * SerializationError for a value the serializer cannot store; RedisUnavailableError when Redis
   * is unreachable.
   *
   * @example
   * const id = await streams.append(CREW_EVENTS, { type: 'crew.run.started', crewId: 'c-1', runId: 'r-9', at: new Date() });
   */
  async append<T = unknown>(stream: StreamRef<T>, event: NoInfer<T>, options?: AppendOptions): Promise<string> {
    const name = streamName(stream);
    checkOptions(options);
    const maxLen = checkMaxLen(options?.maxLen, definitionMaxLen(stream, this.options.maxLen));
    const tenant = this.core.tenants.resolve(options?.tenant, 'streams.append');
    const data = this.core.serializer.encode(event);
    let id: string;
    try {
      id = await this.core.telemetry.tracer.trace(STREAM_APPEND, tenant, name, () => this.store.append(this.keysOf(tenant, name), data, maxLen));
    } catch (error) {
      throw this.observer.failed(error, 'streams.append');
    }
    this.observer.appended.add();
    return id;
  }

  /**
   * Entries in append order, for replay: from `from` (inclusive, `-` the oldest, default), or
   * after `after` (paging), at most `count` (default 100). `deliveries` is 0. An entry the
   * serializer cannot decode throws DeserializationError naming its id (page past it with `after`).
   *
   * @example
   * const page = await streams.read(CREW_EVENTS, { count: 50 });
   * const next = await streams.read(CREW_EVENTS, { after: page.at(-1)!.id, count: 50 });
   */
  async read<T = unknown>(stream: StreamRef<T>, options?: ReadOptions): Promise<Array<StreamEntry<T>>> {
    const name = streamName(stream);
    checkOptions(options);
    const from = checkEntryId(options?.from, 'from', true, true) ?? '-';
    const after = checkEntryId(options?.after, 'after', true);
    const count = checkCount(options?.count, DEFAULT_PAGE);
    const tenant = this.core.tenants.resolve(options?.tenant, 'streams.read');
    if (after === LAST_ENTRY_ID) return []; // nothing comes after it (XRANGE refuses the exclusive start)
    const keys = this.keysOf(tenant, name);
    const raw = await this.observer.run('streams.read', () => this.store.range(keys, after === undefined ? from : `(${after}`, count));
    return raw.map((entry) => ({ id: entry.id, stream: name, tenant, payload: this.decode<T>(entry, name), appendedAt: appendedAt(entry.id), deliveries: 0 }));
  }

  /**
   * How many entries the stream holds (0 when it does not exist).
   *
   * @example
   * const size = await streams.length('orders', { tenant: 'acme' });
   */
  async length(stream: StreamRef, options?: { tenant?: string }): Promise<number> {
    const keys = this.target(stream, options, 'streams.length');
    return this.observer.run('streams.length', () => this.store.length(keys));
  }

  /**
   * Starts a consumer of `group` (created unless it exists, at `startFrom`) and resolves once it
   * runs. While Redis is unreachable it does not throw: the consumer retries with backoff and
   * logs a warning. One consumer name per group, stream and tenant in one StreamService
   * (default name: the module's `instanceId`), and one live process per name (see
   * ConsumeOptions.consumer); StreamShutdownError once the application shuts down.
   *
   * @example
   * const subscription = await streams.consume(ORDERS, 'billing', async (entry) => {
   *   await invoices.create(entry.payload.orderId, entry.payload.total); // a throw retries it later
   * }, { concurrency: 8, maxDeliveries: 5, claimIdleMs: 60_000 });
   */
  async consume<T = unknown>(stream: StreamRef<T>, group: string, handler: StreamHandler<T>, options?: ConsumeOptions): Promise<StreamSubscription> {
    const name = streamName(stream);
    checkGroupName(group, 'group');
    checkHandler(handler);
    checkOptions(options);
    const settings = consumerSettings(options, this.options.consumerDefaults);
    const consumer = options?.consumer ?? this.core.instanceId;
    checkGroupName(consumer, 'consumer');
    const tenant = this.core.tenants.resolve(options?.tenant, 'streams.consume');
    if (this.stopping) throw new StreamShutdownError(name, group);
    const keys = this.keysOf(tenant, name);
    const id = `${keys.stream}\n${group}\n${consumer}`;
    if (this.consumers.has(id)) {
      throw new InvalidArgumentError('consumer', `${JSON.stringify(consumer)} already consumes ${JSON.stringify(name)} in group ${JSON.stringify(group)} (tenant ${tenant}); give each consumer of a group its own name`);
    }
    const spec = { keys, stream: name, tenant, group, consumer, handler: handler as StreamHandler, settings };
    const runner: StreamConsumerRunner = new StreamConsumerRunner(spec, this.context, this.observer.consumer(name, group, tenant, consumer), () => {
      if (this.consumers.get(id) === runner) this.consumers.delete(id);
    });
    this.consumers.set(id, runner);
    try {
      await runner.start();
    } catch (error) {
      this.consumers.delete(id);
      throw this.observer.failed(error, 'streams.consume');
    }
    if (!runner.active) throw new StreamShutdownError(name, group);
    return runner;
  }

  /**
   * The group's entries delivered and not acknowledged: count, oldest and newest id, per consumer.
   *
   * @example
   * const { count, consumers } = await streams.pending('orders', 'billing');
   */
  async pending(stream: StreamRef, group: string, options?: { tenant?: string }): Promise<PendingSummary> {
    checkGroupName(group, 'group');
    const keys = this.target(stream, options, 'streams.pending');
    return this.observer.run('streams.pending', () => this.store.pending(keys, group));
  }

  /**
   * The stream's consumer groups with their lag (entries not delivered yet) and pending count.
   *
   * @example
   * const behind = (await streams.groups(CREW_EVENTS)).filter((g) => (g.lag ?? 0) > 1_000 || g.pending > 100);
   */
  async groups(stream: StreamRef, options?: { tenant?: string }): Promise<StreamGroupInfo[]> {
    const keys = this.target(stream, options, 'streams.groups');
    return this.observer.run('streams.groups', () => this.store.groups(keys));
  }

  /**
   * The stream's dead letters, oldest first (default 100, `after` for paging). A dead letter whose
   * payload the serializer cannot decode (that is why some got there) has `payload` undefined.
   *
   * @example
   * const letters = await streams.deadLetters(ORDERS, { count: 20 });
   * const reasons = letters.map((letter) => `${letter.entryId} (${letter.group}): ${letter.error} after ${letter.deliveries}`);
   */
  async deadLetters<T = unknown>(stream: StreamRef<T>, options?: DeadLetterReadOptions): Promise<Array<DeadLetter<T>>> {
    const name = streamName(stream);
    checkOptions(options);
    const count = checkCount(options?.count, DEFAULT_PAGE);
    const after = checkEntryId(options?.after, 'after', true) ?? null;
    const tenant = this.core.tenants.resolve(options?.tenant, 'streams.deadLetters');
    if (after === LAST_ENTRY_ID) return [];
    const keys = this.keysOf(tenant, name);
    const raw = await this.observer.run('streams.deadLetters', () => this.store.deadLetters(keys, after, count));
    return raw.map(({ data, ...letter }) => ({ ...letter, stream: name, tenant, payload: this.tryDecode(data) as T, deadAt: appendedAt(letter.id) }));
  }

  /**
   * Appends dead letter `id`'s payload anew to the stream for its group only (the other groups
   * ack it unhandled) and removes the dead letter, in one step. DeadLetterNotFoundError when
   * there is no such dead letter (unknown, trimmed, or replayed already).
   *
   * @example
   * const [letter] = await streams.deadLetters(ORDERS, { count: 1 });
   * await streams.replayDeadLetter(ORDERS, letter.id); // after fixing what made its handler fail
   */
  async replayDeadLetter(stream: StreamRef, id: string, options?: { tenant?: string }): Promise<ReplayResult> {
    checkEntryId(id, 'id', false);
    const keys = this.target(stream, options, 'streams.replayDeadLetter');
    const maxLen = definitionMaxLen(stream, this.options.maxLen);
    const entryId = await this.observer.run('streams.replayDeadLetter', () => this.store.replay(keys, id, maxLen));
    if (entryId === null) throw new DeadLetterNotFoundError(streamName(stream), id);
    return { entryId };
  }

  /** Stops every consumer (in parallel): reads end, in-flight handlers finish (bounded) and are acked. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.consumers.values()].map((runner) => runner.stop()));
  }

  /** The keys of the stream of a call's tenant, after checking its arguments. */
  private target(stream: StreamRef, options: { tenant?: string } | undefined, operation: string): StreamKeyPair {
    const name = streamName(stream);
    checkOptions(options);
    return this.keysOf(this.core.tenants.resolve(options?.tenant, operation), name);
  }

  /** StreamKeys.of, remembered: building two keys on every append is work done once. */
  private keysOf(tenant: string, name: string): StreamKeyPair {
    let byName = this.keyPairs.get(tenant);
    if (byName === undefined) {
      if (this.keyPairs.size >= MAX_REMEMBERED_KEYS) this.keyPairs.clear();
      this.keyPairs.set(tenant, (byName = new Map()));
    }
    let keys = byName.get(name);
    if (keys === undefined) {
      if (byName.size >= MAX_REMEMBERED_KEYS) byName.clear();
      byName.set(name, (keys = this.keys.of(tenant, name)));
    }
    return keys;
  }

  private decode<T>(entry: RawEntry, name: string): T {
    try {
      return this.core.serializer.decode<T>(entry.data);
    } catch (error) {
      if (!(error instanceof DeserializationError)) throw error;
      throw new DeserializationError(`entry ${entry.id} of stream ${JSON.stringify(name)}: ${error.reason}`, error.path, { cause: error });
    }
  }

  private tryDecode(data: string): unknown {
    try {
      return this.core.serializer.decode(data);
    } catch {
      return undefined;
    }
  }
}
