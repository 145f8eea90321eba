import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { isClusterClient } from '../connection/is-cluster.js';
import type { RedisClient } from '../connection/redis-client.factory.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import { isTransportError } from '../connection/redis-errors.js';
import { RedisUnavailableError } from '../errors/coordination.error.js';
import { CONSUME, groupMissingOr, toEntries, type EntryReply } from './redis-stream-replies.js';
import type { RawEntry, StreamKeyPair, StreamReader } from './stream-store.interface.js';
import { ConnectionIds, unblockRead, type BlockedOn } from './redis-stream-unblock.js';

/**
 * A reader of new entries on a dedicated `blocking` connection, opened at its first read and
 * released by `close()`. A read is sent only on a ready connection: while the connection is
 * first made, a read waits for it; once it has been ready, a read while it is not (lost,
 * reconnecting) fails at once with RedisUnavailableError, so that the consumer backs off (and
 * says it paused). A read in flight when the connection is lost fails the same way, at once,
 * and its connection is dropped with it: ioredis would send the read again after the
 * reconnection, and the entries it took would wait for an idle claim (the next read opens a
 * new connection). `close()` ends a read in flight with `CLIENT UNBLOCK` (through the command
 * connection; see unblockRead) and lets it resolve with its reply: `[]` when it had taken
 * nothing, else the entries Redis gave it meanwhile, which the consumer hands back. When that
 * fails or gets no reply within the command timeout, the read resolves to `[]` (what it took
 * stays pending for the consumer, for an idle claim). Then it disconnects (a QUIT would wait
 * behind a blocked XREADGROUP). A read with no reply within its
 * blockMs plus the command timeout (a connection that died without closing: packets dropped,
 * socket open) fails with RedisUnavailableError too, and its connection is dropped.
 *
 * @example
 * const reader = new RedisStreamReader(connection, options.connection.commandTimeoutMs);
 * const entries = await reader.readNew(keys, 'billing', 'worker-1', 10, 5_000);
 * await reader.close();
 */
export class RedisStreamReader implements StreamReader {
  private client?: RedisClient;
  /** Ends the wait or the read in flight early: the connection became ready or was lost, or the reader closed. */
  private interrupt?: (why: Interruption) => void;
  private isClosed = false;
  /** The connection has been ready: not being ready now means it is lost, and a read fails at once. */
  private wasReady = false;
  /** performance.now() when the connection was lost (undefined while it is ready). */
  private lostAt?: number;
  /** Connections dropped with a read in flight, while they close. */
  private readonly dropping = new Set<Promise<void>>();
  private readonly ids = new ConnectionIds();
  /** The read in flight: the connection it blocks, and its reply (settled). */
  private reading?: { readonly blockedOn: Promise<BlockedOn | undefined>; readonly replied: Promise<unknown> };

  constructor(private readonly connection: RedisConnection, private readonly commandTimeoutMs: number) {}

  async readNew(keys: StreamKeyPair, group: string, consumer: string, count: number, blockMs: number): Promise<RawEntry[]> {
    // No reply within blockMs + the command timeout: the connection died without closing (packets
    // dropped, socket open), which TCP would notice only after minutes. BLOCK 0 waits for good.
    const deadline: Deadline = { ms: blockMs + this.commandTimeoutMs, passed: false };
    const timer = blockMs > 0 ? setTimeout(() => ((deadline.passed = true), this.interrupt?.('expired')), deadline.ms) : undefined;
    try {
      return await this.read(keys, group, consumer, count, blockMs, deadline);
    } finally {
      clearTimeout(timer);
    }
  }

  private async read(keys: StreamKeyPair, group: string, consumer: string, count: number, blockMs: number, deadline: Deadline): Promise<RawEntry[]> {
    const client = await this.ready(deadline);
    if (!client || this.isClosed) return [];
    let reply: XReadGroupReply | Interruption;
    try {
      const blockedOn = this.ids.before(client, keys.stream); // sent ahead of the read, on its connection
      const read = client.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', keys.stream, '>') as Promise<XReadGroupReply>;
      this.reading = { blockedOn, replied: read.catch(() => undefined) };
      reply = await Promise.race([read, this.next(['lost', 'closed', 'expired'])]);
    } catch (error) {
      if (this.isClosed) return [];
      throw isTransportError(error) ? new RedisUnavailableError(CONSUME, error) : groupMissingOr(error, keys, group);
    } finally {
      this.interrupt = undefined;
      this.reading = undefined;
    }
    // A reply after close() (unblocked) still hands on the entries Redis gave the read.
    if (reply === 'closed' || (this.isClosed && typeof reply === 'string')) return [];
    if (reply === 'expired') throw this.expired(client, deadline);
    if (reply === 'lost') {
      this.drop(client);
      throw connectionLost('lost during a blocking read');
    }
    return reply === null ? [] : toEntries(reply[0][1]);
  }

  /** Drops a connection that gave no reply in time (the next read opens a new one); the error to throw. */
  private expired(client: RedisClient, deadline: Deadline): RedisUnavailableError {
    this.drop(client);
    return new RedisUnavailableError(CONSUME, new Error(`no reply from the blocking connection within ${deadline.ms} ms (blockMs + commandTimeoutMs): dropped`));
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    // A read in flight returns what it took once unblocked; dropped (resolved to []) when that fails.
    if (!(await this.unblock())) this.interrupt?.('closed');
    const client = this.client;
    if (client) {
      await startupNodesKnown(client);
      client.disconnect();
      await this.connection.releaseClient(client);
    }
    await Promise.all(this.dropping);
  }

  /** Unblocks the read in flight and waits for its reply (bounded by the command timeout); false when there is none or that failed. */
  private async unblock(): Promise<boolean> {
    const reading = this.reading;
    if (!reading) return false;
    return unblockRead(this.connection, reading.blockedOn, reading.replied, this.commandTimeoutMs);
  }

  /** The connection once it is ready; undefined once the reader is closed. */
  private async ready(deadline: Deadline): Promise<RedisClient | undefined> {
    if (this.isClosed) return undefined;
    const client = (this.client ??= this.open());
    if (client.status === 'ready') return client;
    if (this.wasReady || client.status === 'reconnecting' || client.status === 'end') {
      // Lost for longer than a read may take (a reconnection whose handshake never answers stays
      // `connect` for good): drop it, so that a later read opens a new connection.
      if (this.lostAt !== undefined && performance.now() - this.lostAt > deadline.ms) this.drop(client);
      throw connectionLost(client.status);
    }
    // Being made for the first time (also a connection opened after a drop): wait for it.
    if (client.status === 'wait') client.connect().catch(() => undefined); // lazyConnect (a duplicate of the user's client)
    const why = await this.next(['ready', 'lost', 'closed', 'expired']);
    this.interrupt = undefined;
    if (why === 'closed') return undefined;
    // Made but never ready in time (its handshake got no reply): a new connection may do better.
    if (why === 'expired' || deadline.passed) throw this.expired(client, deadline);
    const now: string = client.status; // changed meanwhile
    if (now !== 'ready') throw connectionLost(now);
    return client;
  }

  private open(): RedisClient {
    const client = this.connection.createBlockingClient();
    this.wasReady = false;
    this.lostAt = undefined;
    // A dropped connection, still closing, no longer speaks for the reader.
    client.on('ready', () => {
      if (this.client !== client) return;
      this.wasReady = true;
      this.lostAt = undefined;
      this.interrupt?.('ready');
    });
    client.on('close', () => {
      if (this.client !== client) return;
      this.lostAt ??= performance.now();
      this.interrupt?.('lost');
    });
    return client;
  }

  /** The next of `awaited` to happen (one wait at a time: the consumer reads one batch at a time). */
  private next<W extends Interruption>(awaited: readonly W[]): Promise<W> {
    return new Promise((resolve) => {
      this.interrupt = (why) => {
        if ((awaited as readonly Interruption[]).includes(why)) resolve(why as W);
      };
    });
  }

  /** Drops a connection whose read was lost: closing it discards the read ioredis would send again. */
  private drop(client: RedisClient): void {
    if (this.client === client) this.client = undefined;
    client.disconnect();
    const closing: Promise<void> = this.connection.releaseClient(client).finally(() => this.dropping.delete(closing));
    this.dropping.add(closing);
  }
}

/** What ends a wait of the reader: its connection became ready, or was lost; the reader closed; the read's deadline passed. */
type Interruption = 'ready' | 'lost' | 'closed' | 'expired';

/** When a read gives up on its connection: `ms` after it began (blockMs + commandTimeoutMs); `passed` once it has. */
interface Deadline { readonly ms: number; passed: boolean }

const connectionLost = (state: string): RedisUnavailableError => new RedisUnavailableError(CONSUME, new Error(`the blocking connection is ${state}`));

type XReadGroupReply = Array<[stream: string, entries: EntryReply[]]> | null;

/**
 * Resolves once a Cluster client has passed the resolution of its startup nodes (at most 1 s).
 * ioredis 6 leaves a Cluster disconnected during that step `disconnecting` for good (its
 * connect() rejects without ending it), so it never emits `end` and its queued commands hang.
 */
async function startupNodesKnown(client: RedisClient): Promise<void> {
  if (!isClusterClient(client) || client.status !== 'connecting' || client.nodes('all').length > 0) return;
  const stop = new AbortController();
  await Promise.race([
    once(client, '+node', { signal: stop.signal }),
    once(client, 'end', { signal: stop.signal }),
    delay(1_000, undefined, { signal: stop.signal }),
  ]).catch(() => undefined);
  stop.abort();
}
