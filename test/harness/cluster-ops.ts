/**
 * Topology changes of a private test cluster (startRedisCluster), done the way an operator does
 * them, while the application keeps running: a live slot migration step by step (so a test can
 * hold a slot half-moved while traffic runs), `redis-cli --cluster reshard`, and a master
 * failover (CLUSTER FAILOVER on a replica, or a SIGKILL of the master and a promotion after
 * cluster-node-timeout). Every helper returns once all live nodes agree on the new topology and
 * report `cluster_state:ok`.
 *
 * Admin commands go over short-lived node connections (no cluster client): a cluster client would
 * follow the very redirections the tests want the application to meet.
 */
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { RedisClusterHandle, RedisNodeAddress, RedisServerHandle } from './redis-server.js';

const SETTLE_TIMEOUT_MS = 30_000;
const MIGRATE_TIMEOUT_MS = 5_000;

/** One node as the cluster describes it (CLUSTER NODES of a live node). */
export interface ClusterNode extends RedisNodeAddress {
  id: string;
  role: 'master' | 'replica';
  /** The master a replica follows. */
  masterId?: string;
  /** Slots a master serves (expanded; empty for a replica). */
  slots: number[];
  /** Flagged `fail` (or `fail?`) by the node that was asked. */
  failing: boolean;
  /** The harness process of the node. */
  server: RedisServerHandle;
}

/** Runs one command on one node over a fresh connection. */
export async function nodeCommand<T = unknown>(node: RedisNodeAddress, ...args: Array<string | number>): Promise<T> {
  const redis = new Redis({
    host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false,
    retryStrategy: () => null, connectTimeout: 1_000, commandTimeout: MIGRATE_TIMEOUT_MS + 1_000,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.call(String(args[0]), ...args.slice(1))) as T;
  } finally {
    redis.disconnect();
  }
}

/** The topology as seen by the first live node: masters with their slots, replicas with their master. */
export async function clusterNodes(cluster: RedisClusterHandle): Promise<ClusterNode[]> {
  let lastError: unknown;
  for (const server of cluster.servers) {
    try {
      return parseClusterNodes(await nodeCommand<string>(server, 'CLUSTER', 'NODES'), cluster);
    } catch (error) {
      lastError = error; // killed or paused: ask the next one
    }
  }
  throw new Error(`no cluster node answers CLUSTER NODES: ${String(lastError)}`);
}

/** The slot of `key` (hash tags included), as the cluster computes it. */
export async function slotOf(cluster: RedisClusterHandle, key: string): Promise<number> {
  for (const server of cluster.servers) {
    const slot = await nodeCommand<number>(server, 'CLUSTER', 'KEYSLOT', key).catch(() => undefined);
    if (slot !== undefined) return Number(slot);
  }
  throw new Error('no cluster node answers CLUSTER KEYSLOT');
}

/** The master serving `slot` now. */
export async function masterOf(cluster: RedisClusterHandle, slot: number): Promise<ClusterNode> {
  const owner = (await clusterNodes(cluster)).find((n) => n.role === 'master' && !n.failing && n.slots.includes(slot));
  if (!owner) throw new Error(`no live master serves slot ${slot}`);
  return owner;
}

/** A live master other than `master`s (the first such, by port), e.g. the target of a migration. */
export async function otherMaster(cluster: RedisClusterHandle, master: RedisNodeAddress): Promise<ClusterNode> {
  const other = (await clusterNodes(cluster))
    .filter((n) => n.role === 'master' && !n.failing && n.slots.length > 0 && n.port !== master.port)
    .sort((a, b) => a.port - b.port)[0];
  if (!other) throw new Error('no other live master');
  return other;
}

/**
 * A slot being migrated: the source answers ASK for keys it no longer has, the target serves them
 * to clients that send ASKING first, and a multi-key command whose keys are split between the two
 * (or missing) gets TRYAGAIN. Move keys in steps with `moveKeys`, then `finish()` hands the slot
 * over (the old owner answers MOVED from then on).
 */
export interface SlotMigration {
  readonly slot: number;
  readonly from: ClusterNode;
  readonly to: ClusterNode;
  /** MIGRATEs up to `limit` keys (default all) in batches of `batch` (default 10); returns how many moved. */
  moveKeys(options?: { limit?: number; batch?: number }): Promise<number>;
  /** Keys of the slot still on the source. */
  keysLeft(): Promise<number>;
  /** Moves what is left, assigns the slot to the target on every master and waits until all nodes agree. */
  finish(): Promise<void>;
}

/**
 * Opens the migration of `slot` to the master `to` (SETSLOT IMPORTING on the target, then
 * MIGRATING on the source, as redis-cli does), moving no key yet.
 *
 * @example
 * const migration = await beginSlotMigration(cluster, slot, target);
 * await migration.moveKeys({ limit: 2 }); // keys of one hash tag now split: multi-key scripts get TRYAGAIN
 * await migration.finish();
 */
export async function beginSlotMigration(cluster: RedisClusterHandle, slot: number, to: RedisNodeAddress): Promise<SlotMigration> {
  const nodes = await clusterNodes(cluster);
  const from = nodes.find((n) => n.role === 'master' && n.slots.includes(slot));
  const target = nodes.find((n) => n.port === to.port && n.host === to.host);
  if (!from) throw new Error(`no master serves slot ${slot}`);
  if (!target || target.role !== 'master') throw new Error(`${to.host}:${to.port} is not a master`);
  if (target.id === from.id) throw new Error(`slot ${slot} is already served by ${to.host}:${to.port}`);
  await nodeCommand(target, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
  await nodeCommand(from, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);

  const keysLeft = async (): Promise<number> => Number(await nodeCommand(from, 'CLUSTER', 'COUNTKEYSINSLOT', slot));
  const moveKeys = async ({ limit = Infinity, batch = 10 }: { limit?: number; batch?: number } = {}): Promise<number> => {
    let moved = 0;
    while (moved < limit) {
      const keys = await nodeCommand<string[]>(from, 'CLUSTER', 'GETKEYSINSLOT', slot, Math.min(batch, limit - moved));
      if (keys.length === 0) break;
      const reply = await nodeCommand<string>(from, 'MIGRATE', target.host, target.port, '', 0, MIGRATE_TIMEOUT_MS, 'KEYS', ...keys);
      // NOKEY: every key of the batch expired or was deleted since GETKEYSINSLOT; the next read tells.
      if (reply !== 'OK' && reply !== 'NOKEY') throw new Error(`MIGRATE of slot ${slot} answered ${reply}`);
      moved += keys.length;
    }
    return moved;
  };
  const finish = async (): Promise<void> => {
    // A key written on the source meanwhile (it serves the keys it still has) moves too.
    while ((await moveKeys()) > 0);
    // Target first, so that the slot never ends up owned by nobody; then the source, then the rest.
    await nodeCommand(target, 'CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
    await nodeCommand(from, 'CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
    const masters = (await clusterNodes(cluster)).filter((n) => n.role === 'master' && !n.failing && n.id !== from.id && n.id !== target.id);
    for (const master of masters) await nodeCommand(master, 'CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
    await waitForClusterStable(cluster, { slot, owner: target });
  };
  return { slot, from, to: target, moveKeys, keysLeft, finish };
}

/**
 * A whole live migration of `slot` to `to`: open, move the keys in batches, hand over.
 *
 * @example
 * await migrateSlot(cluster, await slotOf(cluster, '{job}'), await otherMaster(cluster, owner));
 */
export async function migrateSlot(cluster: RedisClusterHandle, slot: number, to: RedisNodeAddress): Promise<void> {
  const migration = await beginSlotMigration(cluster, slot, to);
  await migration.finish();
}

/**
 * `redis-cli --cluster reshard` from the master serving `slot` to `to`. redis-cli takes a
 * source's slots in ascending order, so this moves every slot of that master up to and including
 * `slot` (one slot when `slot` is its lowest, e.g. a slot migrated onto it before); it refuses to
 * move more than `maxSlots`. Returns the slots moved.
 *
 * @example
 * const moved = await reshardWithRedisCli(cluster, slot, original); // [slot]
 */
export async function reshardWithRedisCli(
  cluster: RedisClusterHandle, slot: number, to: RedisNodeAddress, { maxSlots = 64 }: { maxSlots?: number } = {},
): Promise<number[]> {
  const nodes = await clusterNodes(cluster);
  const from = nodes.find((n) => n.role === 'master' && n.slots.includes(slot));
  const target = nodes.find((n) => n.port === to.port && n.host === to.host);
  if (!from || !target) throw new Error(`slot ${slot} or ${to.host}:${to.port} not found`);
  const moving = from.slots.filter((s) => s <= slot);
  if (moving.length > maxSlots) throw new Error(`resharding slot ${slot} would move ${moving.length} slots (max ${maxSlots})`);
  await promisify(execFile)('redis-cli', [
    '--cluster', 'reshard', `${from.host}:${from.port}`,
    '--cluster-from', from.id, '--cluster-to', target.id, '--cluster-slots', String(moving.length),
    '--cluster-pipeline', '10', '--cluster-yes',
  ], { timeout: SETTLE_TIMEOUT_MS });
  await waitForClusterStable(cluster, { slot, owner: target });
  return moving;
}

/** What a failover did: the replica now serving the old master's slots, and the old master's process. */
export interface Failover {
  promoted: ClusterNode;
  /** The old master: a replica of `promoted` after a graceful failover; dead after a kill (restart it to rejoin as a replica). */
  demoted: RedisServerHandle;
}

/**
 * Fails the master `master` over to one of its replicas: `graceful` sends CLUSTER FAILOVER to the
 * replica (the master stops writes, the replica catches up, then takes over: nothing acknowledged
 * is lost); `kill` SIGKILLs the master, and the other masters promote the replica once it has not
 * answered for cluster-node-timeout. Replication is asynchronous, so a kill loses what the master
 * acknowledged in its last moment but had not sent to the replica yet; `lossless` rules that out
 * (for a test whose invariants assume no loss): the master's writes are paused (CLIENT PAUSE
 * WRITE: commands wait, unexecuted) until the replica has them all, then it is killed, and the
 * commands that waited die with it. Returns once every live node agrees that the replica serves
 * the slots.
 *
 * @example
 * const { promoted, demoted } = await failoverMaster(cluster, owner, 'kill');
 * await rejoin(cluster, demoted); // back as a replica of `promoted`
 */
export async function failoverMaster(
  cluster: RedisClusterHandle, master: RedisNodeAddress, mode: 'graceful' | 'kill', { lossless = false }: { lossless?: boolean } = {},
): Promise<Failover> {
  const nodes = await clusterNodes(cluster);
  const old = nodes.find((n) => n.port === master.port && n.host === master.host);
  if (!old || old.role !== 'master') throw new Error(`${master.host}:${master.port} is not a master`);
  const replica = nodes.find((n) => n.role === 'replica' && n.masterId === old.id && !n.failing);
  if (!replica) throw new Error(`master ${master.host}:${master.port} has no live replica (start the cluster with replicas)`);
  await waitForReplicaLink(replica);
  if (mode === 'graceful') {
    await nodeCommand(replica, 'CLUSTER', 'FAILOVER');
  } else {
    if (lossless) await pauseUntilReplicated(old, replica);
    await old.server.kill();
  }
  await waitForClusterStable(cluster, { slot: old.slots[0], owner: replica, down: mode === 'kill' ? [old] : [] });
  return { promoted: (await clusterNodes(cluster)).find((n) => n.id === replica.id)!, demoted: old.server };
}

/** Restarts a killed node and waits until it is back as a replica in sync, the whole cluster agreeing. */
export async function rejoin(cluster: RedisClusterHandle, server: RedisServerHandle): Promise<void> {
  await server.restart();
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const node = (await clusterNodes(cluster)).find((n) => n.port === server.port);
    if (node?.role === 'replica' && !node.failing && (await replicaLinkUp(node))) break;
    if (Date.now() > deadline) throw new Error(`node ${server.port} did not rejoin as a replica in sync`);
    await sleep(100);
  }
  await waitForClusterStable(cluster);
}

/**
 * Until every live node reports `cluster_state:ok`, no slot is open (migrating / importing), and
 * all of them agree on who serves each slot (and, with `owner`, that it serves `slot`). `down`:
 * nodes known to be dead, not waited for (they are still flagged failing by the others).
 */
export async function waitForClusterStable(
  cluster: RedisClusterHandle,
  expect: { slot?: number; owner?: RedisNodeAddress; down?: RedisNodeAddress[] } = {},
): Promise<void> {
  const down = new Set((expect.down ?? []).map((n) => n.port));
  const live = cluster.servers.filter((s) => !down.has(s.port));
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let last = '';
  for (;;) {
    const views = await Promise.all(live.map(async (s) => {
      const [info, nodes] = await Promise.all([
        nodeCommand<string>(s, 'CLUSTER', 'INFO'), nodeCommand<string>(s, 'CLUSTER', 'NODES'),
      ]).catch(() => ['', '']);
      return { info, nodes };
    }));
    const layouts = views.map((v) => slotLayout(v.nodes));
    const ok = views.every((v) => v.info.includes('cluster_state:ok\r\n') && !/\[\d+-[<>]-/.test(v.nodes));
    const agree = layouts.every((l) => l === layouts[0]) && layouts[0] !== '';
    const owned = expect.slot === undefined || expect.owner === undefined || ownerPort(views[0].nodes, expect.slot) === expect.owner.port;
    if (ok && agree && owned) return;
    last = views.map((v, i) => `${live[i].port}: ${v.info.split('\r\n')[0]}\n${v.nodes}`).join('\n');
    if (Date.now() > deadline) throw new Error(`cluster not stable after ${SETTLE_TIMEOUT_MS} ms:\n${last}`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------

async function replicaLinkUp(node: RedisNodeAddress): Promise<boolean> {
  const info = await nodeCommand<string>(node, 'INFO', 'replication').catch(() => '');
  return info.includes('master_link_status:up\r\n');
}

/** A replica's link must be up before a failover (CLUSTER FAILOVER needs it; a promotion after a kill needs recent data). */
async function waitForReplicaLink(node: RedisNodeAddress): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  while (!(await replicaLinkUp(node))) {
    if (Date.now() > deadline) throw new Error(`replica ${node.port} not in sync with its master`);
    await sleep(100);
  }
}

/** CLIENT PAUSE WRITE on `master`, then until `replica` has processed every write the master made. */
async function pauseUntilReplicated(master: RedisNodeAddress, replica: RedisNodeAddress): Promise<void> {
  await nodeCommand(master, 'CLIENT', 'PAUSE', SETTLE_TIMEOUT_MS, 'WRITE');
  const offsetOf = (info: string, field: string): number => Number(new RegExp(`${field}:(\\d+)`).exec(info)?.[1] ?? -1);
  const target = offsetOf(await nodeCommand<string>(master, 'INFO', 'replication'), 'master_repl_offset');
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  while (offsetOf(await nodeCommand<string>(replica, 'INFO', 'replication'), 'slave_repl_offset') < target) {
    if (Date.now() > deadline) throw new Error(`replica ${replica.port} did not reach offset ${target}`);
    await sleep(10);
  }
}

/** `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot> ...` per line. */
function parseClusterNodes(text: string, cluster: RedisClusterHandle): ClusterNode[] {
  return text.trim().split('\n').map((line) => {
    const [id, address, flags, masterId, , , , , ...slotFields] = line.trim().split(' ');
    const port = Number(address.split('@')[0].split(':').pop());
    const server = cluster.servers.find((s) => s.port === port);
    if (!server) throw new Error(`node ${address} is not one of this cluster's servers`);
    const flagList = flags.split(',');
    const replica = flagList.includes('slave');
    return {
      id, host: server.host, port, server,
      role: replica ? 'replica' : 'master',
      masterId: replica ? masterId : undefined,
      slots: replica ? [] : slotFields.flatMap(expandSlots),
      failing: flagList.includes('fail') || flagList.includes('fail?'),
    } satisfies ClusterNode;
  });
}

/** `0-5460` or `42` (`[42->-id]` / `[42-<-id]`: an open migration, not ownership). */
function expandSlots(field: string): number[] {
  if (field.startsWith('[')) return [];
  const [first, last = first] = field.split('-').map(Number);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** A comparable summary of who serves which slots in one node's CLUSTER NODES view (live masters only). */
function slotLayout(text: string): string {
  if (!text) return '';
  return text.trim().split('\n')
    .map((line) => line.trim().split(' '))
    .filter((f) => !f[2].split(',').includes('slave') && f.length > 8)
    .map((f) => `${f[1].split('@')[0]}=${f.slice(8).filter((s) => !s.startsWith('[')).join(',')}${/fail/.test(f[2]) ? '!' : ''}`)
    .sort()
    .join(' ');
}

function ownerPort(text: string, slot: number): number | undefined {
  for (const line of text.trim().split('\n')) {
    const f = line.trim().split(' ');
    if (f[2].split(',').includes('slave') || /fail/.test(f[2])) continue;
    if (f.slice(8).flatMap(expandSlots).includes(slot)) return Number(f[1].split('@')[0].split(':').pop());
  }
  return undefined;
}
