import type { PendingSummary, StreamGroupInfo } from './stream.types.js';

/** Injection token of the StreamStore (Redis or memory, chosen from the driver). */
export const STREAM_STORE = Symbol('STREAM_STORE');

/**
 * The keys of one stream of one tenant: the stream and its dead-letter stream, sharing one hash
 * tag (one cluster slot), so one script can move an entry between them. Built by StreamKeys.
 */
export interface StreamKeyPair {
  readonly stream: string;
  readonly dead: string;
}

/**
 * An entry as stored: its id, the serialized payload (field `d`) and, for an entry replayed from
 * the dead-letter stream, the one group it is for (field `g`; other groups ack it unhandled).
 */
export interface RawEntry {
  readonly id: string;
  readonly data: string;
  readonly onlyGroup?: string;
}

/** An entry delivered to a consumer, with its delivery count in the group (this delivery included). */
export interface DeliveredEntry extends RawEntry {
  readonly deliveries: number;
}

/** A dead letter as stored (fields `d`, `e` entry id, `g` group, `c` consumer, `err`, `n` deliveries). */
export interface RawDeadLetter {
  readonly id: string;
  readonly data: string;
  readonly entryId: string;
  readonly group: string;
  /**
   * The consumer that gave the entry up: after a handler error (`fail`), the consumer whose
   * handler failed; past maxDeliveries in `claim`, the consumer that claimed it (for an idle
   * claim not the one that crashed or stalled holding it: XAUTOCLAIM hands the entry over
   * before its count is known, and the previous owner is not recorded).
   */
  readonly consumer: string;
  readonly error: string;
  readonly deliveries: number;
}

/**
 * Which pending entries `claim` takes: `own` re-reads this consumer's own pending entries with ids
 * after `after` (XREADGROUP with an id: drained first when a consumer starts, e.g. after a
 * restart under the same name); `idle` takes entries of any consumer of the group pending for at
 * least `minIdleMs` (XAUTOCLAIM from `cursor`, `0-0` to start a pass).
 */
export type ClaimRequest =
  | { readonly mode: 'own'; readonly after: string; readonly count: number; readonly maxDeliveries: number; readonly deadMaxLen: number }
  | { readonly mode: 'idle'; readonly cursor: string; readonly minIdleMs: number; readonly count: number; readonly maxDeliveries: number; readonly deadMaxLen: number };

/**
 * Entries `claim` handed to the consumer, with their delivery counts. Entries whose count went past
 * `maxDeliveries` (their consumers crashed or stalled that often) were moved to the dead-letter
 * stream and acked instead of returned, counted in `deadLettered`. Entries trimmed away
 * (`MAXLEN`) while pending left the pending entries list unhandled, counted in `trimmed` (`own`:
 * the entries XREADGROUP returned without fields, acked; `idle`: the ids XAUTOCLAIM reported
 * deleted). `next` continues the pass (`after` for `own`, `cursor` for `idle`); null when the
 * pass is complete. An `idle` call may return no entries and a `next` all the same: XAUTOCLAIM
 * looks at most 10 × count pending entries per call, and those may all be too recent.
 */
export interface ClaimReply {
  readonly entries: readonly DeliveredEntry[];
  readonly deadLettered: number;
  readonly trimmed: number;
  readonly next: string | null;
}

/** What `fail` did with an entry whose handler failed. */
export type FailOutcome =
  /** Left pending: delivered again once idle for claimIdleMs. */
  | 'retry'
  /** Moved to the dead-letter stream with the error, and acked: it had `maxDeliveries` deliveries. */
  | 'dead'
  /** No longer pending for this consumer (acked, or reclaimed by another consumer after a stall). */
  | 'gone'
  /**
   * Trimmed away (`MAXLEN`) while pending for this consumer: now acked, unhandled; nothing can
   * deliver it again. A lost entry, unlike 'gone' (which another consumer has).
   */
  | 'trimmed';

/**
 * A dedicated reader of new entries for one consumer: on Redis a connection of its own (the
 * `blocking` role), never the shared command connection, since XREADGROUP BLOCK holds it.
 */
export interface StreamReader {
  /**
   * New entries for the group (`XREADGROUP GROUP group consumer COUNT count BLOCK blockMs STREAMS
   * stream >`), each delivered once (deliveries 1); `[]` when none arrived within `blockMs`.
   * Rejects with RedisUnavailableError while Redis is unreachable, and when no reply came
   * within `blockMs` + the command timeout (a connection that died without closing).
   */
  readNew(keys: StreamKeyPair, group: string, consumer: string, count: number, blockMs: number): Promise<RawEntry[]>;
  /**
   * Ends a read in flight and releases the connection. The read resolves to `[]` when it took
   * nothing, or to the entries it was given before it ended (pending for the consumer, which
   * hands them back), or rejects; it leaves no entry pending that it does not return, unless
   * the unblock fails (Redis: then the entries wait for an idle claim).
   */
  close(): Promise<void>;
}

/**
 * Atomic primitives of durable streams. Every method maps to one round trip (a command or one
 * Lua script over both keys of a StreamKeyPair). Transport failures reject with
 * RedisUnavailableError; never a silent drop. Implemented by RedisStreamStore and
 * MemoryStreamStore with one contract (test/contract/stores/stream-store.contract.ts).
 *
 * @example
 * const id = await store.append(keys, serializer.encode(event), 100_000);
 * await store.ensureGroup(keys, 'billing', 'earliest');
 */
export interface StreamStore {
  /** XADD with `MAXLEN ~ maxLen` (no trimming when 0); returns the new id. */
  append(keys: StreamKeyPair, data: string, maxLen: number): Promise<string>;
  /**
   * Entries in id order from `start` (inclusive id, `-` for the oldest, or `(<id>` for after an
   * id), at most `count`.
   */
  range(keys: StreamKeyPair, start: string, count: number): Promise<RawEntry[]>;
  /** Number of entries in the stream (0 when it does not exist). */
  length(keys: StreamKeyPair): Promise<number>;
  /** Creates the group (and the stream) unless it exists: `earliest` starts at id 0, `latest` at the last entry. */
  ensureGroup(keys: StreamKeyPair, group: string, startFrom: 'earliest' | 'latest'): Promise<void>;
  /** A new dedicated reader; close it when done. */
  openReader(): StreamReader;
  /** Takes pending entries (see ClaimRequest, ClaimReply). */
  claim(keys: StreamKeyPair, group: string, consumer: string, request: ClaimRequest): Promise<ClaimReply>;
  /** XACK; returns how many were pending. */
  ack(keys: StreamKeyPair, group: string, ids: readonly string[]): Promise<number>;
  /**
   * Renews this consumer's in-flight entries (resets their idle time without counting a delivery),
   * so no other consumer reclaims them while the handler runs. Returns the ids no longer pending
   * for this consumer (acked, or reclaimed by another consumer after a stall).
   */
  touch(keys: StreamKeyPair, group: string, consumer: string, ids: readonly string[]): Promise<string[]>;
  /**
   * Hands back entries this consumer was given but never ran (its read-ahead when it stops):
   * each id still pending FOR THIS consumer gets idle time `idleMs` and the delivery count it
   * had before this delivery (XCLAIM <consumer> 0 <id> IDLE <idleMs> RETRYCOUNT <count - 1>
   * JUSTID, after an owner check), so that the next idle claim of any consumer with
   * `minIdleMs <= idleMs` takes it at once, and the delivery that never ran is not counted.
   * Ids of other consumers, acked or unknown are left alone. Returns how many were handed back.
   */
  release(keys: StreamKeyPair, group: string, consumer: string, ids: readonly string[], idleMs: number): Promise<number>;
  /**
   * After a handler failed on `id`: when the entry has been delivered `maxDeliveries` times, moves
   * it to the dead-letter stream (`MAXLEN ~ deadMaxLen`) with `error`, the group, the consumer and
   * the delivery count, and acks it; otherwise leaves it pending.
   */
  fail(keys: StreamKeyPair, group: string, consumer: string, id: string, error: string, maxDeliveries: number, deadMaxLen: number): Promise<FailOutcome>;
  /**
   * Deletes the group's consumers that hold no pending entry and were idle longer than `idleMs`
   * (XINFO CONSUMERS `idle`: on Redis 7.0 since the last read that delivered entries, claim that
   * took some, or renewal; XGROUP DELCONSUMER; one script): consumer names are per process by
   * default, so without it every restart leaves one behind. A live consumer of a quiet stream
   * may go too, harmlessly: it holds nothing, and the read that next delivers to it creates it
   * again. Returns how many were deleted.
   */
  pruneConsumers(keys: StreamKeyPair, group: string, idleMs: number): Promise<number>;
  /** XPENDING summary of the group; zero when the group or stream does not exist. */
  pending(keys: StreamKeyPair, group: string): Promise<PendingSummary>;
  /** XINFO GROUPS; `[]` when the stream does not exist. */
  groups(keys: StreamKeyPair): Promise<StreamGroupInfo[]>;
  /** Dead letters oldest first, after `after` (exclusive) when given. */
  deadLetters(keys: StreamKeyPair, after: string | null, count: number): Promise<RawDeadLetter[]>;
  /**
   * Appends dead letter `deadId`'s payload anew to the stream, for its group only, and deletes the
   * dead letter (one atomic step); returns the new entry id, null when no such dead letter exists.
   */
  replay(keys: StreamKeyPair, deadId: string, maxLen: number): Promise<string | null>;
}
