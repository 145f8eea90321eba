import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import type { RedisClient } from '../connection/redis-client.factory.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import { isTransportError } from '../connection/redis-errors.js';
import { RedisUnavailableError } from '../errors/coordination.error.js';
import { isNoGroupReply, StreamGroupMissingError } from './stream-group-missing.js';
import type {
  ClaimReply, ClaimRequest, DeliveredEntry, FailOutcome, RawDeadLetter, RawEntry, StreamKeyPair, StreamReader, StreamStore,
} from './stream-store.interface.js';
import { STREAM_SCRIPTS as S } from './stream.scripts.js';
import type { PendingSummary, StreamGroupInfo } from './stream.types.js';

/** An entry as XRANGE / XREADGROUP reply it: its id and its fields as a flat `[name, value, ...]` array (null once trimmed). */
type EntryReply = [id: string, fields: string[] | null];
type ClaimScriptReply = [next: string, deadLettered: number, flat: Array<string | number>];

/** The public operation the consumer's calls serve, as errors name it. */
const CONSUME = 'streams.consume';

/**
 * The durable stream store on Redis Streams. Appends are ONE plain `XADD key [MAXLEN ~ n] * d
 * <data>` (no script: as fast as a raw XADD); reads, group creation and inspection are single
 * commands (XRANGE, XLEN, XGROUP CREATE MKSTREAM, XPENDING, XINFO GROUPS); what must read and
 * write the pending entries list atomically is one Lua script over the stream and its
 * dead-letter stream (same hash tag): claim, ack, touch, fail, replay (stream.scripts.ts). All
 * of it goes through the command connection's circuit breaker, so an outage fails as
 * RedisUnavailableError naming the public operation. Blocking reads of new entries go through a
 * StreamReader on a dedicated connection.
 *
 * NOGROUP (the stream or the group was deleted while consumers ran, e.g. FLUSHALL) becomes
 * StreamGroupMissingError from readNew, claim, ack, touch and fail, so that the consumer can
 * create the group again; `pending` then answers zero and `groups` `[]`.
 *
 * Replies are turned into typed results by the functions at the end of the file and nowhere
 * else. The connection speaks RESP3 with ioredis's `legacy` reply mapping: maps arrive as flat
 * `[key, value, ...]` arrays, i.e. the RESP2 shapes (XINFO GROUPS: one flat array per group).
 *
 * @example
 * const store = new RedisStreamStore(core.connection);
 * const keys = new StreamKeys(core.keys).of('acme', 'orders');
 * await store.ensureGroup(keys, 'billing', 'earliest');
 * const id = await store.append(keys, '{"orderId":"o-1"}', 100_000);
 */
export class RedisStreamStore implements StreamStore {
  constructor(private readonly connection: RedisConnection) {}

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
    return new RedisStreamReader(this.connection);
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

/**
 * A reader of new entries on a dedicated `blocking` connection, opened at its first read and
 * released by `close()`. The connection queues a read while it connects for the first time;
 * while it reconnects after a loss, a read fails at once with RedisUnavailableError, so that
 * the consumer backs off. `close()` resolves a read in flight to `[]` at once, whatever the
 * connection does (entries Redis delivered to it meanwhile stay pending for the consumer), and
 * disconnects (a QUIT would wait behind the blocked XREADGROUP).
 */
class RedisStreamReader implements StreamReader {
  private client?: RedisClient;
  private markClosed!: () => void;
  private readonly closed = new Promise<typeof CLOSED>((resolve) => (this.markClosed = () => resolve(CLOSED)));
  private isClosed = false;

  constructor(private readonly connection: RedisConnection) {}

  async readNew(keys: StreamKeyPair, group: string, consumer: string, count: number, blockMs: number): Promise<RawEntry[]> {
    if (this.isClosed) return [];
    const client = (this.client ??= this.connection.createBlockingClient());
    if (client.status === 'reconnecting' || client.status === 'end') {
      throw new RedisUnavailableError(CONSUME, new Error(`connection is ${client.status}`));
    }
    let reply: XReadGroupReply | typeof CLOSED;
    try {
      const read = client.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', keys.stream, '>') as Promise<XReadGroupReply>;
      reply = await Promise.race([read, this.closed]);
    } catch (error) {
      if (this.isClosed) return [];
      throw isTransportError(error) ? new RedisUnavailableError(CONSUME, error) : groupMissingOr(error, keys, group);
    }
    return reply === CLOSED || reply === null ? [] : toEntries(reply[0][1]);
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.markClosed();
    const client = this.client;
    if (!client) return;
    await startupNodesKnown(client);
    client.disconnect();
    await this.connection.releaseClient(client);
  }
}

const CLOSED = Symbol('closed');
type XReadGroupReply = Array<[stream: string, entries: EntryReply[]]> | null;

/**
 * Resolves once a Cluster client has passed the resolution of its startup nodes (at most 1 s).
 * ioredis 6 leaves a Cluster disconnected during that step `disconnecting` for good (its
 * connect() rejects without ending it), so it never emits `end` and its queued commands hang.
 */
async function startupNodesKnown(client: RedisClient): Promise<void> {
  if (!(client instanceof Cluster) || client.status !== 'connecting' || client.nodes('all').length > 0) return;
  const stop = new AbortController();
  await Promise.race([
    once(client, '+node', { signal: stop.signal }),
    once(client, 'end', { signal: stop.signal }),
    delay(1_000, undefined, { signal: stop.signal }),
  ]).catch(() => undefined);
  stop.abort();
}

const groupMissingOr = (error: unknown, keys: StreamKeyPair, group: string): unknown =>
  isNoGroupReply(error) ? new StreamGroupMissingError(keys.stream, group, { cause: error }) : error;

// The replies read by the store, into typed results (and nowhere else).

/** The value of field `name` of a flat `[name, value, ...]` array, or undefined. */
function field(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function toEntry(id: string, fields: readonly string[]): RawEntry {
  const onlyGroup = field(fields, 'g');
  return onlyGroup ? { id, data: field(fields, 'd') ?? '', onlyGroup } : { id, data: field(fields, 'd') ?? '' };
}

/** Entries of XRANGE / XREADGROUP `>` (never trimmed ones: those come only from own history, read by the claim script). */
function toEntries(reply: readonly EntryReply[]): RawEntry[] {
  const entries: RawEntry[] = [];
  for (const [id, fields] of reply) if (fields) entries.push(toEntry(id, fields));
  return entries;
}

function toClaimed([next, deadLettered, flat]: ClaimScriptReply): ClaimReply {
  const entries: DeliveredEntry[] = [];
  for (let i = 0; i < flat.length; i += 4) {
    const onlyGroup = flat[i + 2] as string;
    const entry = { id: flat[i] as string, data: flat[i + 1] as string, deliveries: Number(flat[i + 3]) };
    entries.push(onlyGroup === '' ? entry : { ...entry, onlyGroup });
  }
  return { entries, deadLettered: Number(deadLettered), next: next === '' ? null : next };
}

/** XPENDING summary: count, lowest and highest id, and `[consumer, count-as-string]` pairs (nulls when none). */
type PendingReply = [count: number, oldest: string | null, newest: string | null, consumers: Array<[string, string]> | null];

const NO_PENDING: PendingSummary = Object.freeze({ count: 0, oldestId: null, newestId: null, consumers: Object.freeze({}) });

function toPending([count, oldestId, newestId, rows]: PendingReply): PendingSummary {
  const consumers: Record<string, number> = {};
  for (const [name, n] of rows ?? []) consumers[name] = Number(n);
  return { count: Number(count), oldestId, newestId, consumers };
}

/** XINFO GROUPS: per group a flat `[name, value, ...]` array (name, consumers, pending, last-delivered-id, entries-read, lag). */
type GroupReply = Array<string | number | null>;

function toGroups(reply: readonly GroupReply[]): StreamGroupInfo[] {
  return reply.map((flat) => {
    const info = new Map<string, string | number | null>();
    for (let i = 0; i < flat.length; i += 2) info.set(String(flat[i]), flat[i + 1]);
    const lag = info.get('lag');
    return {
      group: String(info.get('name')),
      consumers: Number(info.get('consumers')),
      pending: Number(info.get('pending')),
      lag: lag === null || lag === undefined ? null : Number(lag),
      lastDeliveredId: String(info.get('last-delivered-id')),
    };
  });
}

function toDeadLetters(reply: readonly EntryReply[]): RawDeadLetter[] {
  const letters: RawDeadLetter[] = [];
  for (const [id, fields] of reply) {
    if (!fields) continue;
    letters.push({
      id,
      data: field(fields, 'd') ?? '',
      entryId: field(fields, 'e') ?? '',
      group: field(fields, 'g') ?? '',
      consumer: field(fields, 'c') ?? '',
      error: field(fields, 'err') ?? '',
      deliveries: Number(field(fields, 'n') ?? 0),
    });
  }
  return letters;
}
