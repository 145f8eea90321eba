import { type Cluster, type Redis } from 'ioredis';
import { isClusterClient } from '../connection/is-cluster.js';
import type { RedisClient } from '../connection/redis-client.factory.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import type { CacheLease, CacheStore, CacheStoreEntry } from './cache-store.interface.js';
import { CACHE_SCRIPTS as S } from './cache.scripts.js';
import { storeTtlMs } from './store-ttl.js';

/** Keys asked of each node per SCAN call of `deleteMatching`. */
const SCAN_COUNT = 500;
/**
 * Most keys per MGET / UNLINK on a standalone server: still one round trip (the chunks leave on
 * one auto-pipeline), but no single command holds the server for long, and no call spreads an
 * unbounded array into arguments.
 */
const KEYS_PER_COMMAND = 1_000;

/**
 * The cache store on Redis, through the circuit breaker of the command connection (errors name
 * the store operation: `cache.get`, `cache.fill`, `cache.deleteMatching`, ...).
 *
 * One round trip per call: the command connection is auto-pipelined, so the commands one call
 * sends in one tick leave together. On a standalone server (or Sentinel) many keys go as one
 * MGET / UNLINK; on a cluster every key is its own command (GET, SET PX, INCR, UNLINK), which
 * ioredis groups into one pipeline per node: never a cross-slot multi-key command. Only
 * `fill` and `releaseLease` need a script (cache.scripts.ts); both keys of `fill` share the
 * entry's hash tag.
 *
 * Tag counters (`bumpCounters`) have no lifetime: one small key per tag ever invalidated stays
 * until the tenant's namespace is cleared, so a counter can never fall back to a version an
 * older entry was stored with.
 *
 * Replies are turned into typed results by the small functions at the end of the file and
 * nowhere else. ioredis 6 speaks RESP3 with the `legacy` reply mapping (the default the
 * connection uses): every reply read here (bulk strings, integers, nulls, the SCAN pair) has
 * the same shape under RESP2 and RESP3.
 *
 * @example
 * const store = new RedisCacheStore(core.connection);
 * if (await store.tryLease(leaseKey, token, 10_000)) {
 *   await store.fill(entryKey, encoded, 60_000, { key: leaseKey, token });
 * }
 */
export class RedisCacheStore implements CacheStore {
  private readonly cluster: boolean;

  constructor(private readonly connection: RedisConnection) {
    this.cluster = isClusterClient(connection.client);
  }

  get(key: string): Promise<string | null> {
    return this.connection.execute('cache.get', (c) => c.get(key));
  }

  async getMany(keys: readonly string[]): Promise<Array<string | null>> {
    if (keys.length === 0) return [];
    return this.connection.execute('cache.getMany', (c) => (this.cluster ? Promise.all(keys.map((k) => c.get(k))) : mget(c, keys)));
  }

  /** With `lease`: UNLINK it, then SET, on one pipeline (same slot, in this order: see the class note). */
  async set(key: string, value: string, ttlMs: number, lease?: string): Promise<void> {
    const px = storeTtlMs(ttlMs);
    await this.connection.execute<unknown>('cache.set', (c) =>
      lease === undefined ? c.set(key, value, 'PX', px) : Promise.all([c.unlink(lease), c.set(key, value, 'PX', px)]),
    );
  }

  async setMany(entries: readonly CacheStoreEntry[]): Promise<void> {
    await this.writeAll('cache.setMany', entries);
  }

  async fill(key: string, value: string, ttlMs: number, lease: CacheLease): Promise<boolean> {
    const px = storeTtlMs(ttlMs);
    return toFlag(await this.connection.runScript<number>(S.fill, [key, lease.key], [value, px, lease.token]));
  }

  /** UNLINK of `leases`, then of `keys` (only those counted), on one pipeline. */
  async delete(keys: readonly string[], leases: readonly string[] = []): Promise<number> {
    if (keys.length === 0) return 0;
    return this.connection.execute('cache.delete', (c) =>
      leases.length === 0 ? this.unlink(c, keys) : Promise.all([this.unlink(c, leases), this.unlink(c, keys)]).then(([, deleted]) => deleted),
    );
  }

  async exists(key: string): Promise<boolean> {
    return toFlag(await this.connection.execute('cache.exists', (c) => c.exists(key)));
  }

  async tryLease(key: string, token: string, ttlMs: number): Promise<boolean> {
    const px = storeTtlMs(ttlMs);
    return toSetNx(await this.connection.execute('cache.tryLease', (c) => c.set(key, token, 'PX', px, 'NX')));
  }

  async takeLease(key: string, token: string, ttlMs: number): Promise<void> {
    const px = storeTtlMs(ttlMs);
    await this.connection.execute('cache.takeLease', (c) => c.set(key, token, 'PX', px));
  }

  async releaseLease(key: string, token: string): Promise<boolean> {
    return toFlag(await this.connection.runScript<number>(S.releaseLease, [key], [token]));
  }

  async readCounters(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    const values = await this.connection.execute('cache.readCounters', (c) =>
      this.cluster ? Promise.all(keys.map((k) => c.get(k))) : mget(c, keys),
    );
    return values.map(toCounter);
  }

  /** INCR of each key (no lifetime, see the class note), in one round trip; each increment is atomic. */
  async bumpCounters(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    return this.connection.execute('cache.bumpCounters', (c) => Promise.all(keys.map((k) => c.incr(k))));
  }

  /**
   * SCAN MATCH `pattern` COUNT 500 on every master (each node of a cluster, in parallel), and
   * UNLINK each batch as it is found while the scan goes on. Keys written during the scan may
   * or may not be deleted (SCAN's guarantee: every key present from start to end is seen); a key
   * a SCAN returns twice is counted once, since only the UNLINK that removed it counts.
   */
  deleteMatching(pattern: string): Promise<number> {
    return this.connection.execute('cache.deleteMatching', (c) => {
      const nodes: Redis[] = this.cluster ? (c as Cluster).nodes('master') : [c as Redis];
      if (nodes.length === 0) throw new Error('CLUSTERDOWN no master node known to the client');
      return Promise.all(nodes.map((node) => this.scanAndUnlink(c, node, pattern))).then(sum);
    });
  }

  async getBuffers(keys: readonly string[]): Promise<Array<Buffer | null>> {
    if (keys.length === 0) return [];
    return this.connection.execute('cache.getBuffers', (c) =>
      this.cluster ? Promise.all(keys.map((k) => c.getBuffer(k))) : inChunks(keys, (chunk) => c.mgetBuffer(chunk)).then(flat),
    );
  }

  async setBuffers(entries: ReadonlyArray<CacheStoreEntry<Buffer>>): Promise<void> {
    await this.writeAll('cache.setBuffers', entries);
  }

  /** MEMORY USAGE key SAMPLES 0: the exact bytes of the key, its value and Redis's overhead for them. */
  memoryUsage(key: string): Promise<number | null> {
    return this.connection.execute('cache.memoryUsage', (c) => c.memory('USAGE', key, 'SAMPLES', 0));
  }

  /**
   * UNLINK of the entries' leases, then SET PX of every entry, in one tick (one pipeline per
   * node); every lifetime is checked first.
   */
  private async writeAll(operation: string, entries: ReadonlyArray<CacheStoreEntry<string | Buffer>>): Promise<void> {
    if (entries.length === 0) return;
    const ttls = entries.map((entry) => storeTtlMs(entry.ttlMs));
    const leases: string[] = [];
    for (const entry of entries) if (entry.lease !== undefined) leases.push(entry.lease);
    await this.connection.execute(operation, (c) => {
      const dropped = leases.length === 0 ? undefined : this.unlink(c, leases);
      return Promise.all([dropped, ...entries.map((e, i) => c.set(e.key, e.value, 'PX', ttls[i]))]);
    });
  }

  /** UNLINK `keys`: one command on a standalone server, one per key on a cluster (routed per slot). */
  private unlink(client: RedisClient, keys: readonly string[]): Promise<number> {
    if (!this.cluster) return inChunks(keys, (chunk) => client.unlink(chunk)).then(sum);
    return Promise.all(keys.map((k) => client.unlink(k))).then(sum);
  }

  /** Scans one master, unlinking each batch through `client` (the cluster client routes by slot). */
  private async scanAndUnlink(client: RedisClient, node: Redis, pattern: string): Promise<number> {
    const unlinks: Array<Promise<number>> = [];
    let cursor = '0';
    try {
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
        cursor = next;
        if (found.length > 0) unlinks.push(this.unlink(client, found));
      } while (cursor !== '0');
    } catch (error) {
      // The batches already sent settle first, so none of them is left as an unhandled rejection.
      await Promise.allSettled(unlinks);
      throw error;
    }
    return sum(await Promise.all(unlinks));
  }
}

/** MGET of `keys` on a standalone server, in chunks of KEYS_PER_COMMAND. */
const mget = (client: RedisClient, keys: readonly string[]): Promise<Array<string | null>> =>
  keys.length <= KEYS_PER_COMMAND ? client.mget(keys as string[]) : inChunks(keys, (chunk) => client.mget(chunk)).then(flat);

/** `send` for each chunk of at most KEYS_PER_COMMAND keys, all in one tick (one pipeline); the whole array when it fits. */
function inChunks<R>(keys: readonly string[], send: (chunk: string[]) => Promise<R>): Promise<R[]> {
  if (keys.length <= KEYS_PER_COMMAND) return Promise.all([send(keys as string[])]);
  const sent: Array<Promise<R>> = [];
  for (let at = 0; at < keys.length; at += KEYS_PER_COMMAND) sent.push(send(keys.slice(at, at + KEYS_PER_COMMAND)));
  return Promise.all(sent);
}

const flat = <T>(chunks: readonly T[][]): T[] => (chunks.length === 1 ? chunks[0] : chunks.flat());

// The replies read by the store, into typed results (and nowhere else).

/** An integer reply 1/0 (a script's flag, EXISTS of one key). */
const toFlag = (reply: number): boolean => reply === 1;

/** SET ... NX: 'OK' when written, null when the key existed. */
const toSetNx = (reply: 'OK' | null): boolean => reply === 'OK';

/** A counter's bulk string, 0 when the key is absent. */
const toCounter = (reply: string | null): number => (reply === null ? 0 : Number(reply));

const sum = (counts: readonly number[]): number => {
  let total = 0;
  for (const n of counts) total += n;
  return total;
};
