import calculateSlot from 'cluster-key-slot';
import { type Redis } from 'ioredis';
import { isClusterClient } from '../connection/is-cluster.js';
import type { RedisClient } from '../connection/redis-client.factory.js';
import type { RedisConnection } from '../connection/redis-connection.js';

/** The connection a blocking read waits on: its `CLIENT ID`, and on a Cluster the node (`host:port`) it is on. */
export interface BlockedOn {
  readonly id: number;
  readonly node?: string;
}

/** How long to wait for a read's reply after `CLIENT UNBLOCK` answered 0 (the read not blocked yet, or its reply on its way) before asking again. */
const RETRY_MS = 10;

/**
 * The `CLIENT ID` of each connection a reader's blocking reads go to, asked once per connection
 * (again after it reconnects), so that `close()` can unblock a read instead of dropping it.
 * `before(client, key)` sends `CLIENT ID` (when not known yet) on the connection that serves a
 * read of `key`, right before the read: a blocked connection answers nothing else until its
 * read returns, so the id must be asked for first.
 *
 * @example
 * const blockedOn = ids.before(client, keys.stream); // then send the XREADGROUP at once
 */
export class ConnectionIds {
  private readonly ids = new WeakMap<Redis, Promise<BlockedOn | undefined>>();

  before(client: RedisClient, key: string): Promise<BlockedOn | undefined> {
    const target = servingConnection(client, key);
    if (!target) return Promise.resolve(undefined);
    const { redis, node } = target;
    let id = this.ids.get(redis);
    if (!id) {
      id = redis.call('CLIENT', 'ID').then((n) => ({ id: Number(n), node }), () => undefined);
      this.ids.set(redis, id);
      redis.once('close', () => this.ids.delete(redis));
    }
    return id;
  }
}

/**
 * Ends a blocking read with `CLIENT UNBLOCK <id> TIMEOUT`, sent through the command connection to
 * the same server (Cluster: the same node), and waits for the read's reply: nil when it had taken
 * nothing, else the entries Redis gave it (the caller hands them on). An answer 0 means the read
 * is not blocked: its reply is on its way, or the read has not reached the server yet (asked
 * again). True once the read replied within `timeoutMs`; false when it did not, or the unblock
 * failed (the caller drops the connection then).
 *
 * @example
 * const done = await unblockRead(connection, ids.before(client, key), read.catch(() => undefined), commandTimeoutMs);
 */
export async function unblockRead(connection: RedisConnection, blockedOn: Promise<BlockedOn | undefined>, reply: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  const replied = reply.then(() => true as const);
  // The id was asked for ahead of the read, so it comes first (or the read replied already).
  const on = await within(Promise.race([blockedOn, replied]), timeoutMs);
  if (on === true) return true;
  if (on === undefined) return false;
  for (let left = deadline - performance.now(); left > 0; left = deadline - performance.now()) {
    const unblocking = connection.execute('streams.consume', (client) => sendUnblock(client, on)).catch(() => undefined);
    const unblocked = await within(unblocking, left);
    if (unblocked === undefined) return false;
    if ((await within(replied, unblocked === 1 ? deadline - performance.now() : Math.min(RETRY_MS, deadline - performance.now()))) === true) return true;
  }
  return false;
}

function sendUnblock(client: RedisClient, on: BlockedOn): Promise<unknown> {
  if (!isClusterClient(client)) return client.call('CLIENT', 'UNBLOCK', on.id, 'TIMEOUT');
  const node = client.nodes('master').find((redis) => nodeKey(redis) === on.node);
  if (!node) return Promise.reject(new Error(`no connection to node ${on.node}`));
  return node.call('CLIENT', 'UNBLOCK', on.id, 'TIMEOUT');
}

/** The connection a read of `key` goes to: the client itself, or a Cluster's master for the key's slot. */
function servingConnection(client: RedisClient, key: string): { redis: Redis; node?: string } | undefined {
  if (!isClusterClient(client)) return { redis: client };
  const node = client.slots[calculateSlot(key)]?.[0];
  const redis = node === undefined ? undefined : client.nodes('master').find((candidate) => nodeKey(candidate) === node);
  return redis && { redis, node };
}

const nodeKey = (redis: Redis): string => `${redis.options.host}:${redis.options.port}`;

/** What `promise` resolves to within `ms`; undefined after that. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), Math.max(0, ms))));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
