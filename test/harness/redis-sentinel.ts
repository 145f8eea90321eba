/**
 * A Sentinel-monitored Redis for failover tests: a master, one replica (REPLICAOF) and three
 * sentinels (quorum 2) on free ports, with short failure detection, and the faults such tests
 * need: a forced failover (SENTINEL FAILOVER), a killed master, a rejoining server.
 *
 * Roles change with every failover, so ask the group (`master()`, `replica()`) rather than
 * relying on the order of `servers`. No jest globals here.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { until } from '../support/wait.js';
import { sendCommand, startRedisServer, type RedisNodeAddress, type RedisServerHandle } from './redis-server.js';

/** The name the sentinels monitor the master under (`connection.sentinelName`). */
export const SENTINEL_MASTER_NAME = 'coordmaster';

/** Sentinel settings of a group: small, so that a test sees a failover within seconds. */
export interface SentinelGroupOptions {
  /** How long the master must be unreachable before a sentinel considers it down. Default 1 000. */
  downAfterMs?: number;
  /**
   * Sentinel's failover-timeout: how long a failover may take, and half the time before the same
   * sentinels try the same master again. Default 3 000.
   */
  failoverTimeoutMs?: number;
}

export interface SentinelGroupHandle {
  readonly name: string;
  /** The three sentinels (`connection.sentinels`). */
  readonly sentinels: readonly RedisNodeAddress[];
  /** The two data servers: at start [master, replica]; after a failover ask `master()` / `replica()`. */
  readonly servers: readonly RedisServerHandle[];
  /** The sentinels' processes (kill, pause or restart one to test sentinel faults). */
  readonly sentinelServers: readonly RedisServerHandle[];
  /** The server a sentinel reports as the master now (SENTINEL get-master-addr-by-name). */
  master(): Promise<RedisServerHandle>;
  /** The other data server (the replica, or a killed former master). */
  replica(): Promise<RedisServerHandle>;
  /**
   * SENTINEL FAILOVER: promotes the replica while the master is alive (it is demoted to a replica
   * of the new one, and Sentinel disconnects its clients). Resolves with the new master once every
   * sentinel reports it and it accepts a write.
   */
  failover(): Promise<RedisServerHandle>;
  /** SIGKILLs the master and resolves once the sentinels promoted the replica (as `awaitPromotion`). */
  killMaster(): Promise<{ killed: RedisServerHandle; promoted: RedisServerHandle }>;
  /**
   * Resolves with the new master once every sentinel reports a master other than `from` and it
   * accepts a write (after `from` was killed, or a failover began).
   */
  awaitPromotion(from: RedisServerHandle): Promise<RedisServerHandle>;
  /**
   * Makes the replica fall behind, as a burst of large writes does: SIGSTOPs it and writes
   * `fillerBytes` (default 16 MiB) of filler to the master, more than the kernel buffers between
   * them hold, so the master's next writes wait in its output buffer for the replica (a master
   * killed now takes them with it). `resume()` SIGCONTs the replica. Keep the stall well below
   * the down-after time, or the sentinels see the replica down too and promote nothing.
   */
  stallReplication(fillerBytes?: number): Promise<{ resume(): void }>;
  /** Restarts `server` (killed, so empty) and resolves once it is a replica of the master, in sync. */
  rejoin(server: RedisServerHandle): Promise<void>;
  /**
   * Resolves once the replica has every write the master acknowledged before this call (a write
   * of its own, then `WAIT 1 timeoutMs` on that connection: replication is one ordered stream).
   * Throws when the replica does not acknowledge in time.
   */
  replicated(timeoutMs?: number): Promise<void>;
  /** Stops the sentinels (so that nothing fails over meanwhile), then the servers; removes the configs. */
  stop(): Promise<void>;
}

/** One sentinel process (a redis-server in sentinel mode, see startSentinel). */
export interface SentinelHandle extends RedisNodeAddress {
  /** Its process: kill, pause or restart it to test a sentinel fault. */
  readonly server: RedisServerHandle;
  /** Stops it and removes its config (when startSentinel created the directory). */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 30_000;
const PROMOTION_TIMEOUT_MS = 30_000;

/**
 * A sentinel monitoring `master` as SENTINEL_MASTER_NAME with `quorum` (default 2), from a
 * writable config file (Sentinel rewrites it) in `opts.dir`, or in a temporary directory of its
 * own, removed by `stop()`.
 *
 * @example
 * const master = await startRedisServer();
 * const sentinel = await startSentinel(master, { quorum: 1 });
 * await bootModule({ connection: { sentinels: [sentinel], sentinelName: SENTINEL_MASTER_NAME } });
 */
export async function startSentinel(
  master: RedisNodeAddress, opts: SentinelGroupOptions & { quorum?: number; dir?: string } = {},
): Promise<SentinelHandle> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'coord-sentinel-'));
  const config = join(dir, `sentinel-${randomBytes(4).toString('hex')}.conf`);
  writeFileSync(config, [
    `sentinel monitor ${SENTINEL_MASTER_NAME} ${master.host} ${master.port} ${opts.quorum ?? 2}`,
    `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${opts.downAfterMs ?? 1_000}`,
    `sentinel failover-timeout ${SENTINEL_MASTER_NAME} ${opts.failoverTimeoutMs ?? 3_000}`,
    `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
    '',
  ].join('\n'));
  const removeDir = () => {
    if (opts.dir === undefined) rmSync(dir, { recursive: true, force: true });
  };
  let server: RedisServerHandle;
  try {
    server = await startRedisServer({ config, args: ['--sentinel', '--dir', dir] });
  } catch (error) {
    removeDir();
    throw error;
  }
  return {
    host: server.host, port: server.port, server,
    stop: async () => {
      await server.stop();
      removeDir();
    },
  };
}

/**
 * Starts a master, a replica and three sentinels (quorum 2), each sentinel with its own writable
 * config file in a temporary directory (Sentinel rewrites it), and waits until every sentinel
 * knows the replica and the two other sentinels (needed for a failover by election).
 *
 * @example
 * const group = await startSentinelGroup();
 * const app = await bootModule({ connection: { sentinels: [...group.sentinels], sentinelName: group.name } });
 * const promoted = await group.failover();
 */
export async function startSentinelGroup(opts: SentinelGroupOptions = {}): Promise<SentinelGroupHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'coord-sentinel-group-'));
  const servers: RedisServerHandle[] = [];
  const sentinels: SentinelHandle[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(sentinels.map((s) => s.stop()));
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Each data server keeps its files (a replica's sync) in its own dir, never another's dump.
    const serverArgs = (label: string) => {
      mkdirSync(join(dir, label));
      return ['--dir', join(dir, label), '--repl-diskless-load', 'swapdb'];
    };
    const master = await startRedisServer({ args: serverArgs('a') });
    servers.push(master);
    servers.push(await startRedisServer({ args: [...serverArgs('b'), '--replicaof', HOST, String(master.port)] }));
    await until(async () => linkUp(await info(servers[1], 'replication')), { timeoutMs: READY_TIMEOUT_MS, intervalMs: 50, message: 'the replica to sync with the master' });
    for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(master, { ...opts, quorum: 2, dir }));
    const expected = `,status=ok,address=${HOST}:${master.port},slaves=1,sentinels=3`;
    await until(async () => {
      const infos = await Promise.all(sentinels.map((s) => info(s, 'sentinel')));
      return infos.every((text) => text.includes(`name=${SENTINEL_MASTER_NAME}${expected}`));
    }, { timeoutMs: READY_TIMEOUT_MS, intervalMs: 100, message: 'every sentinel to know the replica and the other sentinels' });
  } catch (error) {
    await stop();
    throw error;
  }
  return new SentinelGroup(dir, servers, sentinels.map((s) => s.server), stop);
}

class SentinelGroup implements SentinelGroupHandle {
  readonly name = SENTINEL_MASTER_NAME;
  readonly sentinels: readonly RedisNodeAddress[];

  constructor(
    private readonly dir: string,
    readonly servers: readonly RedisServerHandle[],
    readonly sentinelServers: readonly RedisServerHandle[],
    readonly stop: () => Promise<void>,
  ) {
    this.sentinels = sentinelServers.map((s) => ({ host: s.host, port: s.port }));
  }

  async master(): Promise<RedisServerHandle> {
    for (const sentinel of this.sentinels) {
      const port = await reportedMasterPort(sentinel).catch(() => undefined);
      if (port !== undefined) return this.server(port);
    }
    throw new Error('no sentinel answered SENTINEL get-master-addr-by-name');
  }

  async replica(): Promise<RedisServerHandle> {
    const master = await this.master();
    return this.servers.find((s) => s !== master)!;
  }

  async failover(): Promise<RedisServerHandle> {
    const from = await this.master();
    // NOGOODSLAVE while a sentinel's view of the replica is not fresh yet: ask again.
    let refusal = '';
    await until(async () => {
      try {
        await sendCommand(this.sentinels[0], ['SENTINEL', 'FAILOVER', this.name]);
        return true;
      } catch (error) {
        refusal = (error as Error).message;
        return false;
      }
    }, { timeoutMs: PROMOTION_TIMEOUT_MS, intervalMs: 100, message: () => `SENTINEL FAILOVER to be accepted (last refusal: ${refusal})` });
    return this.awaitPromotion(from);
  }

  async killMaster(): Promise<{ killed: RedisServerHandle; promoted: RedisServerHandle }> {
    const killed = await this.master();
    await killed.kill();
    return { killed, promoted: await this.awaitPromotion(killed) };
  }

  async stallReplication(fillerBytes = 16 * 1024 * 1024): Promise<{ resume(): void }> {
    const master = await this.master();
    const replica = await this.replica();
    const chunk = 4 * 1024 * 1024;
    replica.pause();
    try {
      for (let i = 0; i * chunk < fillerBytes; i++) {
        await sendCommand(master, ['SET', `coord-harness:filler:${i}`, 'x'.repeat(Math.min(chunk, fillerBytes - i * chunk))], 5_000);
      }
    } catch (error) {
      replica.resume();
      throw error;
    }
    return { resume: () => replica.resume() };
  }

  async rejoin(server: RedisServerHandle): Promise<void> {
    await server.restart();
    // A restarted former master comes up as an empty master; the sentinels convert it to a replica.
    await until(async () => {
      const master = await this.master();
      const text = await info(server, 'replication');
      return master !== server && text.includes(`master_port:${master.port}\r\n`) && linkUp(text);
    }, { timeoutMs: PROMOTION_TIMEOUT_MS, intervalMs: 100, message: () => `port ${server.port} to rejoin as a replica in sync` });
  }

  async replicated(timeoutMs = 5_000): Promise<void> {
    const master = await this.master();
    const client = new Redis({ host: master.host, port: master.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined); // the call below rejects with it
    try {
      await client.connect();
      await client.set('coord-harness:replicated', String(Date.now()));
      const acknowledged = Number(await client.call('WAIT', '1', String(timeoutMs)));
      if (acknowledged < 1) throw new Error(`the replica did not acknowledge the master's writes within ${timeoutMs} ms`);
    } finally {
      client.disconnect();
    }
  }

  async awaitPromotion(from: RedisServerHandle): Promise<RedisServerHandle> {
    let reported: number[] = [];
    await until(async () => {
      reported = (await Promise.all(this.sentinels.map((s) => reportedMasterPort(s).catch(() => 0)))).filter((port) => port > 0);
      if (reported.length === 0 || reported.some((port) => port === from.port || port !== reported[0])) return false;
      const written = await sendCommand(this.server(reported[0]), ['SET', 'coord-harness:promoted', String(Date.now())]).catch(() => '');
      return written === 'OK';
    }, {
      timeoutMs: PROMOTION_TIMEOUT_MS, intervalMs: 50,
      message: () => `the sentinels to promote a new master instead of port ${from.port} (they report ${reported.join(', ')}; config in ${this.dir})`,
    });
    return this.server(reported[0]);
  }

  private server(port: number): RedisServerHandle {
    const server = this.servers.find((s) => s.port === port);
    if (!server) throw new Error(`a sentinel reports a master on port ${port}, which is not a server of this group`);
    return server;
  }
}

/** The master port a sentinel reports (SENTINEL get-master-addr-by-name, what ioredis asks). */
async function reportedMasterPort(sentinel: RedisNodeAddress): Promise<number> {
  const client = new Redis({
    host: sentinel.host, port: sentinel.port, lazyConnect: true, enableReadyCheck: false,
    connectTimeout: 500, commandTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null,
  });
  client.on('error', () => undefined); // a sentinel that is down: the caller tries the next one
  try {
    await client.connect();
    const reply = await client.call('SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER_NAME);
    if (!Array.isArray(reply)) throw new Error(`sentinel on port ${sentinel.port} does not know ${SENTINEL_MASTER_NAME}`);
    return Number(reply[1]);
  } finally {
    client.disconnect();
  }
}

function info(server: RedisNodeAddress, section: string): Promise<string> {
  return sendCommand(server, ['INFO', section], 500).catch(() => '');
}

function linkUp(replicationInfo: string): boolean {
  return replicationInfo.includes('role:slave\r\n') && replicationInfo.includes('master_link_status:up\r\n');
}
