/**
 * Private `redis-server` processes for tests and benchmarks: standalone servers and a
 * small cluster, on free ports, with the faults tests need (kill, pause, restart).
 *
 * No jest globals here: benchmarks compile this file with tsc. Jest's globalSetup loads it
 * through require() (see global-setup.ts): keep its imports to node builtins and avoid
 * top-level await.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const CLUSTER_READY_TIMEOUT_MS = 30_000;
// Redis derives the cluster bus port from the client port.
const CLUSTER_BUS_OFFSET = 10_000;

export interface RedisNodeAddress {
  host: string;
  port: number;
}

export interface RedisServerHandle {
  readonly port: number;
  readonly host: string;
  readonly url: string;
  /** Pid of the current process; changes on restart(). */
  readonly pid: number;
  /** SIGTERM (after SIGCONT, in case it is paused) and wait for exit; SIGKILL after 5 s. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: a crash, nothing flushed, sockets reset. */
  kill(): Promise<void>;
  /** SIGSTOP: the socket stays open but nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Start again on the same port (and, in a cluster, with the same node id) and wait until ready. */
  restart(): Promise<void>;
}

export interface RedisClusterHandle {
  readonly nodes: RedisNodeAddress[];
  readonly servers: RedisServerHandle[];
  stop(): Promise<void>;
}

export function findFreePort(): Promise<number> {
  return probePort(0);
}

export function assertRedisBinaries(): void {
  for (const bin of ['redis-server', 'redis-cli']) {
    if (!isOnPath(bin)) {
      throw new Error(
        `${bin} was not found on PATH. The tests start their own Redis processes and need ` +
          'redis-server and redis-cli (Redis 7+): run `bash scripts/ensure-redis.sh`, or ' +
          '`apt-get install redis-server redis-tools` (Debian/Ubuntu), or `brew install redis` (macOS).',
      );
    }
  }
}

/**
 * A redis-server on a free port (or `port`), no persistence. `config`: a config file read first
 * (the command-line options override it), e.g. the writable file a Sentinel needs
 * (test/harness/redis-sentinel.ts starts sentinels with `args: ['--sentinel']`).
 */
export async function startRedisServer(opts: { port?: number; args?: string[]; config?: string } = {}): Promise<RedisServerHandle> {
  assertRedisBinaries();
  const args = opts.args ?? [];
  if (opts.port !== undefined) return launch(opts.port, args, opts.config);
  return onFreePort(findFreePort, () => args, opts.config);
}

/**
 * A cluster of `masters` masters (default 3) and `replicas` replicas per master (default 0), on
 * free ports, every slot assigned and `cluster_state:ok` on every node (with replicas: each
 * replica's link to its master up). `nodes` and `servers` list every node in the same order, the
 * masters first as `redis-cli --cluster create` assigned them; roles change after a failover, so
 * ask the cluster (test/harness/cluster-ops.ts) rather than relying on that order afterwards.
 *
 * @example
 * const cluster = await startRedisCluster({ masters: 3, replicas: 1 }); // 6 nodes
 */
export async function startRedisCluster(opts: { masters?: number; replicas?: number } = {}): Promise<RedisClusterHandle> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicas ?? 0;
  if (masters < 3) throw new Error('Redis Cluster needs at least 3 masters');
  if (!Number.isInteger(replicas) || replicas < 0) throw new Error('replicas must be a non-negative integer');
  assertRedisBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'coord-redis-cluster-'));
  const started = await Promise.allSettled(
    Array.from({ length: masters * (1 + replicas) }, () =>
      onFreePort(findFreeClusterPort, (port) => [
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        // A replica writes the RDB of its full sync to disk, and any server started later in the
        // same dir loads it at startup: keep each node's file in the cluster's own dir.
        '--dir', dir, '--dbfilename', `dump-${port}.rdb`,
        '--cluster-node-timeout', '2000',
      ]),
    ),
  );
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const nodes = servers.map((s) => ({ host: s.host, port: s.port }));
    await promisify(execFile)(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
      { timeout: CLUSTER_READY_TIMEOUT_MS },
    );
    await waitForClusterOk(nodes);
    if (replicas > 0) await waitForReplicaLinks(nodes, masters * replicas);
    return { nodes, servers, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Kill servers left behind by processes that died without stopping them (a crashed run, a
 * Jest worker whose test forgot stop()). Servers of live processes are left alone, so
 * concurrent runs in the same tree are safe. `includeOwn` also kills the servers this
 * process started: for the end of a run, when none of them should be left.
 */
export function killStaleRedisServers(opts: { includeOwn?: boolean } = {}): number {
  let killed = 0;
  let entries: string[];
  try {
    entries = readdirSync(pidDir());
  } catch {
    return 0;
  }
  for (const name of entries) {
    const file = join(pidDir(), name);
    let owner = 0;
    let port = 0;
    try {
      [owner, port] = readFileSync(file, 'utf8').trim().split(' ').map(Number);
    } catch {
      continue; // removed meanwhile by the run that owns it
    }
    // An unparsable record is being written right now; a live owner means a concurrent run.
    if (!port || (isAlive(owner) && !(opts.includeOwn && owner === process.pid))) continue;
    const pid = Number(name);
    // The pid may have been reused by an unrelated process since: check it is that server.
    const cmd = isAlive(pid) ? commandLineOf(pid) : '';
    if (cmd.includes('redis-server') && (cmd.includes(`:${port}`) || cmd.includes(`--port ${port}`))) {
      process.kill(pid, 'SIGKILL');
      killed++;
    }
    rmSync(file, { force: true });
  }
  return killed;
}

/** Send one command over a fresh socket; supports simple, error, integer and bulk replies. */
export function sendCommand(target: RedisNodeAddress, args: string[], timeoutMs = 1_000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const socket = createConnection(target.port, target.host);
    let buffer = Buffer.alloc(0);
    const finish = (err: Error | undefined, value?: string): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolvePromise(value ?? '');
    };
    const timer = setTimeout(() => finish(new Error(`${args[0]} to ${target.host}:${target.port} timed out`)), timeoutMs);
    socket.once('connect', () => socket.write(encodeCommand(args)));
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const reply = parseReply(buffer);
      if (reply) finish(reply.error, reply.value);
    });
    socket.once('error', (err) => finish(err));
    socket.once('close', () => finish(new Error('connection closed before a reply')));
  });
}

// ---------------------------------------------------------------------------------------

class RedisServerProcess implements RedisServerHandle {
  readonly host = HOST;
  private child!: ChildProcess;
  private exited!: Promise<void>;
  private logTail = '';

  constructor(
    readonly port: number,
    private readonly extraArgs: string[],
    private readonly configFile?: string,
  ) {}

  get url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [...(this.configFile ? [this.configFile] : []), '--port', String(this.port), '--bind', HOST, '--save', '', '--appendonly', 'no',
        '--dir', tmpdir(), '--loglevel', 'warning', ...this.extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    this.logTail = '';
    let spawnError: Error | undefined;
    this.exited = new Promise((done) => {
      child.once('exit', () => done());
      child.once('error', (err) => {
        spawnError = err;
        done();
      });
    });
    // Drain the pipes (a full pipe would block the server) and keep the end for error messages.
    const keep = (chunk: Buffer): void => {
      this.logTail = (this.logTail + chunk.toString()).slice(-4_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    if (child.pid !== undefined) track(child, this.port);

    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (this.running) {
      try {
        // Check the pid too: another process may have taken the port between probe and bind.
        const info = await sendCommand(this, ['INFO', 'server'], 500);
        if (info.includes(`process_id:${child.pid}\r\n`)) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`redis-server on port ${this.port} not ready after ${READY_TIMEOUT_MS} ms\n${this.logTail}`);
      }
      await sleep(25);
    }
    throw new Error(`redis-server on port ${this.port} exited during startup: ${spawnError?.message ?? ''}\n${this.logTail}`);
  }

  stop(): Promise<void> {
    return this.signalAndWait('SIGTERM');
  }

  kill(): Promise<void> {
    return this.signalAndWait('SIGKILL');
  }

  pause(): void {
    this.child.kill('SIGSTOP');
  }

  resume(): void {
    this.child.kill('SIGCONT');
  }

  async restart(): Promise<void> {
    await this.stop();
    // Redis listens with SO_REUSEADDR, so the port is free again as soon as the process is gone.
    await this.start();
  }

  private get running(): boolean {
    return this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private async signalAndWait(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    // A stopped process does not handle SIGTERM until it is continued.
    if (signal === 'SIGTERM') this.child.kill('SIGCONT');
    this.child.kill(signal);
    if (!(await within(this.exited, STOP_TIMEOUT_MS))) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

async function launch(port: number, args: string[], configFile?: string): Promise<RedisServerHandle> {
  const server = new RedisServerProcess(port, args, configFile);
  await server.start();
  return server;
}

/** A probed port can be taken before redis-server binds it, so try a few ports. */
async function onFreePort(pick: () => Promise<number>, argsFor: (port: number) => string[], configFile?: string): Promise<RedisServerHandle> {
  for (let attempt = 1; ; attempt++) {
    const port = await pick();
    try {
      return await launch(port, argsFor(port), configFile);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function findFreeClusterPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await findFreePort();
    const bus = port + CLUSTER_BUS_OFFSET;
    if (bus <= 65_535 && (await probePort(bus).then(() => true, () => false))) return port;
  }
  throw new Error('no free port pair (port, port + 10000) for a cluster node');
}

function probePort(port: number): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, HOST, () => {
      const { port: bound } = server.address() as AddressInfo;
      server.close(() => resolvePromise(bound));
    });
  });
}

async function waitForClusterOk(nodes: RedisNodeAddress[]): Promise<void> {
  const deadline = Date.now() + CLUSTER_READY_TIMEOUT_MS;
  const expected = ['cluster_state:ok', 'cluster_slots_assigned:16384', `cluster_known_nodes:${nodes.length}`];
  for (;;) {
    const infos = await Promise.all(nodes.map((n) => sendCommand(n, ['CLUSTER', 'INFO']).catch(() => '')));
    if (infos.every((info) => expected.every((line) => info.includes(`${line}\r\n`)))) return;
    if (Date.now() > deadline) {
      throw new Error(`cluster not ok after ${CLUSTER_READY_TIMEOUT_MS} ms:\n${infos.join('\n---\n')}`);
    }
    await sleep(100);
  }
}

/** Until `count` nodes are replicas whose link to their master is up (the initial sync is done). */
async function waitForReplicaLinks(nodes: RedisNodeAddress[], count: number): Promise<void> {
  const deadline = Date.now() + CLUSTER_READY_TIMEOUT_MS;
  for (;;) {
    const infos = await Promise.all(nodes.map((n) => sendCommand(n, ['INFO', 'replication']).catch(() => '')));
    if (infos.filter((info) => info.includes('role:slave\r\n') && info.includes('master_link_status:up\r\n')).length === count) return;
    if (Date.now() > deadline) {
      throw new Error(`cluster replicas not in sync after ${CLUSTER_READY_TIMEOUT_MS} ms:\n${infos.join('\n---\n')}`);
    }
    await sleep(100);
  }
}

// --- pid records: one file per server so concurrent runs and workers never rewrite each other's.

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function pidDir(): string {
  return resolve(process.env.COORD_REDIS_STATE_DIR ?? '.redis-test', 'pids');
}

function track(child: ChildProcess, port: number): void {
  const pid = child.pid as number;
  const file = join(pidDir(), String(pid));
  mkdirSync(pidDir(), { recursive: true });
  writeFileSync(file, `${process.pid} ${port}\n`);
  if (!exitHookInstalled) {
    process.once('exit', killLiveChildren);
    exitHookInstalled = true;
  }
  live.add(child);
  child.once('exit', () => {
    live.delete(child);
    rmSync(file, { force: true });
  });
}

// Servers must not outlive the process that started them. Jest gives test files a copy
// of `process` whose 'exit' never fires; globalTeardown reaps their leftovers instead.
function killLiveChildren(): void {
  for (const child of live) {
    child.kill('SIGKILL');
    rmSync(join(pidDir(), String(child.pid)), { force: true });
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    try {
      return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
    } catch {
      return '';
    }
  }
}

// --- small helpers

function isOnPath(bin: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, bin), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function encodeCommand(args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
}

function parseReply(buffer: Buffer): { error?: Error; value?: string } | undefined {
  const end = buffer.indexOf('\r\n');
  if (end < 0) return undefined;
  const line = buffer.toString('utf8', 1, end);
  switch (String.fromCharCode(buffer[0])) {
    case '+':
    case ':':
      return { value: line };
    case '-':
      return { error: new Error(line) };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: '' };
      if (buffer.length < end + 2 + length + 2) return undefined;
      return { value: buffer.toString('utf8', end + 2, end + 2 + length) };
    }
    default:
      return { error: new Error(`unsupported reply type in: ${line}`) };
  }
}

/** Resolves true if `promise` settles within `ms`, false otherwise, without leaving a timer behind. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((done) => {
    timer = setTimeout(() => done(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
