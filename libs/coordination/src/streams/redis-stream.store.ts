import type { RedisConnection } from '../connection/redis-connection.js';
import { DEFAULT_COORDINATION_OPTIONS } from '../options/resolve-options.js';
import { RedisStreamReader } from './redis-stream-reader.js';
import {
  CONSUME, groupMissingOr, NO_PENDING, toClaimed, toDeadLetters, toEntries, toGroups, toPending,
  type ClaimScriptReply, type EntryReply, type GroupReply, type PendingReply,
} from './redis-stream-replies.js';
import { isNoGroupReply } from './stream-group-missing.js';
import type {
  ClaimReply, ClaimRequest, FailOutcome, RawDeadLetter, RawEntry, StreamKeyPair, StreamReader, StreamStore,
} from './stream-store.interface.js';
import { STREAM_SCRIPTS as S } from './stream.scripts.js';
import type { PendingSummary, StreamGroupInfo } from './stream.types.js';

/**
 * The durable stream store on Redis Streams. Appends are ONE plain `XADD key [MAXLEN ~ n] * d
 * <data>` (no script: as fast as a raw XADD); reads, group creation and inspection are single
 * commands (XRANGE, XLEN, XGROUP CREATE MKSTREAM, XPENDING, XINFO GROUPS); what must read and
 * write the pending entries list atomically is one Lua script over the stream and its
 * dead-letter stream (same hash tag): claim, ack, touch, release, fail, pruneConsumers, replay
 * (stream.scripts.ts). All of it goes through the command connection's circuit breaker, so an
 * outage fails as RedisUnavailableError naming the public operation. Blocking reads of new
 * entries go through a StreamReader on a dedicated connection.
 *
 * NOGROUP (the stream or the group was deleted while consumers ran, e.g. FLUSHALL) becomes
 * StreamGroupMissingError from readNew, claim, ack, touch, release, fail and pruneConsumers, so
 * that the consumer can create the group again; `pending` then answers zero and `groups` `[]`.
 *
 * Replies are turned into typed results in redis-stream-replies.ts and nowhere else; blocking
 * reads are RedisStreamReader's (redis-stream-reader.ts).
 *
 * @example
 * const store = new RedisStreamStore(core.connection, { commandTimeoutMs: core.options.connection.commandTimeoutMs });
 * const keys = new StreamKeys(core.keys).of('acme', 'orders');
 * await store.ensureGroup(keys, 'billing', 'earliest');
 * const id = await store.append(keys, '{"orderId":"o-1"}', 100_000);
 */
export class RedisStreamStore implements StreamStore {
  private readonly commandTimeoutMs: number;

  /**
   * @param options.commandTimeoutMs the module's `connection.commandTimeoutMs`: a blocking read
   * with no reply within its `blockMs` plus this long fails (a connection that died without
   * closing). Default: the module's default, 5_000.
   */
  constructor(private readonly connection: RedisConnection, options: { readonly commandTimeoutMs?: number } = {}) {
    this.commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COORDINATION_OPTIONS.connection.commandTimeoutMs;
  }

  append(keys: StreamKeyPair, data: string, maxLen: number): Promise<string> {
    const stream = keys.stream;
    return this.connection.execute('streams.append', (c) =>
      (maxLen > 0 ? c.xadd(stream, 'MAXLEN', '~', maxLen, '*', 'd', data) : c.xadd(stream, '*', 'd', data)) as Promise<string>,
    );
  }

  async range(keys: StreamKeyPair, start: string, count: number): Promise<RawEntry[]> {
    const reply = await this.connection.execute('streams.read', (c) => c.xrange(keys.stream, start, '+', 'COUNT', count));
    return toEntries(reply as EntryReply[]);
  }

  length(keys: StreamKeyPair): Promise<number> {
    return this.connection.execute('streams.length', (c) => c.xlen(keys.stream));
  }

  async ensureGroup(keys: StreamKeyPair, group: string, startFrom: 'earliest' | 'latest'): Promise<void> {
    try {
      await this.connection.execute(CONSUME, (c) => c.xgroup('CREATE', keys.stream, group, startFrom === 'earliest' ? '0' : '$', 'MKSTREAM'));
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
    }
  }

  openReader(): StreamReader {
    return new RedisStreamReader(this.connection, this.commandTimeoutMs);
  }

  async claim(keys: StreamKeyPair, group: string, consumer: string, r: ClaimRequest): Promise<ClaimReply> {
    const from = r.mode === 'own' ? r.after : r.cursor;
    const minIdleMs = r.mode === 'idle' ? r.minIdleMs : 0;
    const args = [r.mode, group, consumer, from, minIdleMs, r.count, r.maxDeliveries, r.deadMaxLen];
    return toClaimed(await this.script<ClaimScriptReply>(S.claim, keys, group, [keys.stream, keys.dead], args));
  }

  async ack(keys: StreamKeyPair, group: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.script<number>(S.ack, keys, group, [keys.stream], [group, ...ids]);
  }

  async touch(keys: StreamKeyPair, group: string, consumer: string, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return this.script<string[]>(S.touch, keys, group, [keys.stream], [group, consumer, ...ids]);
  }

  async release(keys: StreamKeyPair, group: string, consumer: string, ids: readonly string[], idleMs: number): Promise<number> {
    if (ids.length === 0) return 0;
    return this.script<number>(S.release, keys, group, [keys.stream], [group, consumer, idleMs, ...ids]);
  }

  pruneConsumers(keys: StreamKeyPair, group: string, idleMs: number): Promise<number> {
    return this.script<number>(S.prune, keys, group, [keys.stream], [group, idleMs]);
  }

  fail(keys: StreamKeyPair, group: string, consumer: string, id: string, error: string, maxDeliveries: number, deadMaxLen: number): Promise<FailOutcome> {
    return this.script<FailOutcome>(S.fail, keys, group, [keys.stream, keys.dead], [group, consumer, id, error, maxDeliveries, deadMaxLen]);
  }

  async pending(keys: StreamKeyPair, group: string): Promise<PendingSummary> {
    try {
      return toPending(await this.connection.execute('streams.pending', (c) => c.xpending(keys.stream, group)) as PendingReply);
    } catch (error) {
      if (isNoGroupReply(error)) return NO_PENDING;
      throw error;
    }
  }

  async groups(keys: StreamKeyPair): Promise<StreamGroupInfo[]> {
    try {
      return toGroups(await this.connection.execute('streams.groups', (c) => c.xinfo('GROUPS', keys.stream)) as GroupReply[]);
    } catch (error) {
      if (error instanceof Error && /no such key/i.test(error.message)) return [];
      throw error;
    }
  }

  async deadLetters(keys: StreamKeyPair, after: string | null, count: number): Promise<RawDeadLetter[]> {
    const start = after === null ? '-' : `(${after}`;
    const reply = await this.connection.execute('streams.deadLetters', (c) => c.xrange(keys.dead, start, '+', 'COUNT', count));
    return toDeadLetters(reply as EntryReply[]);
  }

  replay(keys: StreamKeyPair, deadId: string, maxLen: number): Promise<string | null> {
    return this.connection.runScript<string | null>(S.replay, [keys.stream, keys.dead], [deadId, maxLen]);
  }

  /** Runs a script of the consumer's; NOGROUP becomes StreamGroupMissingError. */
  private async script<T>(script: (typeof S)[keyof typeof S], keys: StreamKeyPair, group: string, scriptKeys: string[], args: Array<string | number>): Promise<T> {
    try {
      return await this.connection.runScript<T>(script, scriptKeys, args);
    } catch (error) {
      throw groupMissingOr(error, keys, group);
    }
  }
}
