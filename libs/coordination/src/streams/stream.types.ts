/**
 * Public types of durable event streams (StreamService, @StreamConsumer).
 *
 * A stream is an append-only log in Redis (a Redis Stream, one per tenant and name) that keeps
 * what is appended while consumers are away, unlike the EventBus (pub/sub). Consumer groups read
 * it with at-least-once delivery: an entry is acknowledged after its handler succeeds, is handed
 * to another consumer when its consumer crashed, and moves to the stream's dead-letter stream
 * after `maxDeliveries` failed deliveries.
 */

/**
 * A stream name with the type of its entries, for typed appends and consumers. Create one with
 * `defineStream`; the library defines `CREW_EVENTS`, `SYSTEM_EVENTS` and `METRICS_EVENTS`.
 *
 * @example
 * const ORDERS = defineStream<{ orderId: string; total: number }>('orders', { maxLen: 50_000 });
 * await streams.append(ORDERS, { orderId: 'o-1', total: 42 });
 */
export interface StreamDefinition<T = unknown> {
  readonly name: string;
  /** Default `maxLen` of appends to this stream (else the module's `streams.maxLen`). */
  readonly maxLen?: number;
  /** Phantom field carrying the entry type; never set at runtime. */
  readonly __entry?: T;
}

/** A stream named by a string or a StreamDefinition. */
export type StreamRef<T = unknown> = string | StreamDefinition<T>;

/** The entry type of a StreamRef (`unknown` for a plain name). */
export type EntryOf<S> = S extends StreamDefinition<infer T> ? T : unknown;

/**
 * Options of `StreamService.append`.
 *
 * @example
 * await streams.append('audit', { action: 'login' }, { maxLen: 10_000, tenant: 'acme' });
 */
export interface AppendOptions {
  /**
   * Keep about this many newest entries (approximate trimming, `XADD MAXLEN ~`: Redis trims whole
   * nodes, so the stream may hold up to about 100 more). 0 never trims. Default: the definition's
   * `maxLen`, else `streams.maxLen`.
   */
  maxLen?: number;
  /** The tenant whose stream to append to (default: the current tenant). */
  tenant?: string;
}

/**
 * Options of `StreamService.read` (replay in append order).
 *
 * @example
 * const page = await streams.read('audit', { from: '-', count: 100 });
 * const next = await streams.read('audit', { after: page.at(-1)!.id, count: 100 });
 */
export interface ReadOptions {
  /** First entry id to return, inclusive: an id, `-` (the oldest, default). */
  from?: string;
  /** Return the entries after this id (exclusive); for paging. Overrides `from`. */
  after?: string;
  /** Most entries to return. Default 100, at most 10_000. */
  count?: number;
  tenant?: string;
}

/** One entry of a stream as read or delivered. */
export interface StreamEntry<T = unknown> {
  /** The Redis stream id, `<ms>-<seq>`: unique within the stream and increasing. */
  readonly id: string;
  /** The stream's name (as given to `append`). */
  readonly stream: string;
  readonly tenant: string;
  readonly payload: T;
  /** When the entry was appended (from its id; the server's clock). */
  readonly appendedAt: Date;
  /**
   * How many times it has been delivered to this group, this delivery included (1 the first
   * time; 0 for entries returned by `read`).
   */
  readonly deliveries: number;
}

/**
 * Handles one entry; the entry is acknowledged when the returned promise resolves. A throw (or
 * rejection) leaves it pending: it is delivered again after `claimIdleMs`, and after
 * `maxDeliveries` deliveries it moves to the dead-letter stream with the error.
 */
export type StreamHandler<T = unknown> = (entry: StreamEntry<T>) => unknown;

/**
 * Options of `StreamService.consume` and `@StreamConsumer`.
 *
 * @example
 * await streams.consume('orders', 'billing', async (entry) => bill(entry.payload), { concurrency: 8, maxDeliveries: 5 });
 */
export interface ConsumeOptions {
  /** Handlers running at once in this consumer. Default 1 (entries handled in order). */
  concurrency?: number;
  /** Most entries read per XREADGROUP. Default 10 (at least `concurrency` is not required). */
  batch?: number;
  /** How long one blocking read waits for new entries, ms. Default 5_000. */
  blockMs?: number;
  /** Deliveries before an entry whose handler keeps failing moves to the dead-letter stream. Default 5. */
  maxDeliveries?: number;
  /**
   * An entry pending this long without its consumer renewing it is reclaimed by another consumer of
   * the group (XAUTOCLAIM), and a failed entry is retried after it. A live consumer renews its
   * in-flight entries every third of it, so a slow handler keeps its entry. Default 30_000; at
   * least 1_000 (shorter, a stall of the event loop could let another consumer take an entry
   * whose handler still runs).
   */
  claimIdleMs?: number;
  /**
   * Where a group that does not exist yet starts: `earliest` (every entry still in the stream,
   * default) or `latest` (only entries appended from now on).
   */
  startFrom?: 'earliest' | 'latest';
  /**
   * This consumer's name in the group. Default: the module's `instanceId`. A name must be used by
   * one live process at a time: unique among the consumers running now (two processes under one
   * name would renew, drain and hand back each other's entries), and best stable across restarts,
   * so that a restarted process drains its own pending entries first (a name that is never used
   * again leaves its entries to the idle claims of the others, after `claimIdleMs`).
   */
  consumer?: string;
  tenant?: string;
}

/** A running consumer (returned by `consume`). */
export interface StreamSubscription {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly tenant: string;
  /**
   * Stops reading, waits (bounded by `streams.shutdownTimeoutMs`) for in-flight handlers and acks
   * those that succeed; entries it could not finish stay pending for another consumer.
   */
  stop(): Promise<void>;
}

/** `pending(stream, group)`: the group's entries delivered but not acknowledged. */
export interface PendingSummary {
  readonly count: number;
  /** Lowest and highest pending ids, null when none are pending. */
  readonly oldestId: string | null;
  readonly newestId: string | null;
  /** Pending entries per consumer name. */
  readonly consumers: Readonly<Record<string, number>>;
}

/** One consumer group of a stream (`groups(stream)`). */
export interface StreamGroupInfo {
  readonly group: string;
  readonly consumers: number;
  /** Delivered and not yet acknowledged. */
  readonly pending: number;
  /** Entries not yet delivered to the group; null when Redis cannot tell (after deletions). */
  readonly lag: number | null;
  readonly lastDeliveredId: string;
}

/**
 * Options of `StreamService.deadLetters`.
 *
 * @example
 * const letters = await streams.deadLetters('orders', { count: 20 });
 */
export interface DeadLetterReadOptions {
  /** Most dead letters to return, oldest first. Default 100, at most 10_000. */
  count?: number;
  /** Return the dead letters after this dead-letter id (paging). */
  after?: string;
  tenant?: string;
}

/** An entry that failed `maxDeliveries` times in one group, kept in the stream's dead-letter stream. */
export interface DeadLetter<T = unknown> {
  /** Id in the dead-letter stream (pass it to `replayDeadLetter`). */
  readonly id: string;
  readonly stream: string;
  readonly tenant: string;
  /** The entry's id in the stream. */
  readonly entryId: string;
  readonly group: string;
  /**
   * The consumer that gave up on it: after a handler error, the consumer whose handler failed
   * last. For an entry given up without one (delivered `maxDeliveries` times to consumers that
   * crashed or stalled), the consumer whose idle claim found it past the limit, not the one
   * that held it last.
   */
  readonly consumer: string;
  /** The last handler error's message (or why it was given up without one, e.g. a consumer that crashed each time). */
  readonly error: string;
  readonly deliveries: number;
  readonly payload: T;
  readonly deadAt: Date;
}

/** What `replayDeadLetter` did. */
export interface ReplayResult {
  /** The id of the entry appended anew to the stream (delivered to the dead letter's group only). */
  readonly entryId: string;
}

/**
 * Event types of the seeds' crew stream (CREW_EVENTS).
 *
 * @example
 * await streams.append(CREW_EVENTS, { type: 'crew.run.started', crewId: 'c-1', runId: 'r-9', at: new Date() });
 */
export type CrewStreamEvent =
  | { type: 'crew.run.started'; crewId: string; runId: string; companyId?: string; task?: string; at: Date }
  | { type: 'crew.run.completed'; crewId: string; runId: string; companyId?: string; durationMs: number; result?: unknown; at: Date }
  | { type: 'crew.run.failed'; crewId: string; runId: string; companyId?: string; error: string; at: Date }
  | { type: 'crew.agent.message'; crewId: string; runId: string; agentId: string; message: string; at: Date };

/** Event types of the seeds' system stream (SYSTEM_EVENTS). */
export type SystemStreamEvent =
  | { type: 'system.instance.started' | 'system.instance.stopped'; instanceId: string; at: Date }
  | { type: 'system.alert'; severity: 'info' | 'warning' | 'critical'; message: string; source?: string; at: Date };

/** A measurement of the seeds' metrics stream (METRICS_EVENTS). */
export interface MetricsStreamEvent {
  type: 'metrics.sample';
  name: string;
  value: number;
  unit?: string;
  labels?: Record<string, string>;
  at: Date;
}
