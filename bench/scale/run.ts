/**
 * `npm run scale [-- --seconds 10 --sizes 10,30,100 --topologies standalone,cluster --per-process 10]`:
 * the scale run. For each topology (its own redis-server, its own three-master cluster) and each
 * size, forks processes of `--per-process` CoordinationModule instances each (10 = 1×10,
 * 30 = 3×10, 100 = 10×10) which all contend, for `--seconds`, on 10 locks (acquire with a wait,
 * fenced write, release) and 10 rate-limit keys (exact sliding window, 50 per second). Then checks
 * the invariants (no overlapping holders, every stale write refused, never more than the limit
 * admitted in any window), prints a table per topology with rates, latencies and Redis CPU per
 * operation and how they grow with the size, and exits non-zero if an invariant failed.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { sendCommand, startRedisCluster, startRedisServer, type RedisNodeAddress } from '../../test/harness/redis-server.js';
import { analyzeRun, type ScaleRow } from './analyze.js';
import type { ParentMessage, WorkerConfig, WorkerMessage, WorkerResult, Workload } from './protocol.js';
import { readCounters } from './redis-counters.js';
import { renderGrowth, renderNotes, renderTopology } from './report.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
const BOOT_TIMEOUT_MS = 180_000;
const EXIT_TIMEOUT_MS = 15_000;

const WORKLOAD: Workload = {
  locks: 10,
  lockTtlMs: 10_000,
  // The library's default wait: shorter waits time out under the queues of 100 instances, and a
  // lock handed to a waiter that just gave up is passed on again, which only adds hand-offs.
  lockWaitMs: 10_000,
  lockThinkMs: 100,
  lateWriteShare: 0.1,
  lateWriteMaxDelayMs: 20,
  rateLimitKeys: 10,
  decisionsPerInstancePerSec: 20,
  // 10 instances offer 2× what the keys admit, 100 instances 20×: every size is contended.
  limit: 10,
  windowMs: 1_000,
  // The library's default is 250: on a loaded two-core machine event-loop delay alone passes it,
  // and the local fallback (outside the shared check) would answer. Flag --rate-limit-timeout-ms.
  rateLimitTimeoutMs: 1_000,
};

type Topology = 'standalone' | 'cluster';

interface Settings {
  seconds: number;
  sizes: number[];
  topologies: Topology[];
  perProcess: number;
  rateLimitTimeoutMs: number;
}

function parseArgs(argv: string[]): Settings {
  const settings: Settings = { seconds: 10, sizes: [10, 30, 100], topologies: ['standalone', 'cluster'], perProcess: 10, rateLimitTimeoutMs: WORKLOAD.rateLimitTimeoutMs };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    const list = (): string[] => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    switch (argv[i]) {
      case '--seconds': settings.seconds = Number(value); break;
      case '--sizes': settings.sizes = list().map(Number); break;
      case '--topologies': settings.topologies = list() as Topology[]; break;
      case '--per-process': settings.perProcess = Number(value); break;
      case '--rate-limit-timeout-ms': settings.rateLimitTimeoutMs = Number(value); break;
      default: throw new Error(`unknown argument ${argv[i]}; use --seconds, --sizes, --topologies, --per-process, --rate-limit-timeout-ms`);
    }
    i++;
  }
  if (!(settings.seconds >= 2)) throw new Error('--seconds must be at least 2');
  if (settings.sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--sizes must be positive integers');
  if (settings.topologies.some((t) => t !== 'standalone' && t !== 'cluster')) throw new Error('--topologies: standalone and/or cluster');
  if (!Number.isInteger(settings.perProcess) || settings.perProcess < 1) throw new Error('--per-process must be a positive integer');
  return settings;
}

const origin = process.hrtime.bigint();
const nowUs = (): number => Number(process.hrtime.bigint() - origin) / 1_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Share of the last 10 s in which some runnable task waited for a CPU (Linux PSI, `some avg10`),
 * as a fraction; NaN where /proc/pressure is not available. Near 1 means the machine is saturated.
 */
function cpuPressure(): number {
  try {
    const match = /^some avg10=([\d.]+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return match ? Number(match[1]) / 100 : NaN;
  } catch {
    return NaN;
  }
}

/** A forked worker and what it sent. */
class Worker {
  readonly child: ChildProcess;
  private readonly inbox: WorkerMessage[] = [];
  private readonly waiting: Array<(message: WorkerMessage) => void> = [];
  readonly exited: Promise<number | null>;

  constructor(config: WorkerConfig) {
    this.child = fork(WORKER, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message: WorkerMessage) => {
      const waiter = this.waiting.shift();
      if (waiter) waiter(message);
      else this.inbox.push(message);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** The next message, which must be of `type`; fails if the worker exits, fails or takes longer than `timeoutMs`. */
  async next<T extends WorkerMessage['type']>(type: T, timeoutMs: number): Promise<Extract<WorkerMessage, { type: T }>> {
    let timer: NodeJS.Timeout | undefined;
    const message = await Promise.race([
      this.inbox.length > 0 ? Promise.resolve(this.inbox.shift()!) : new Promise<WorkerMessage>((resolve) => this.waiting.push(resolve)),
      this.exited.then((code) => Promise.reject(new Error(`worker ${this.child.pid} exited (${code}) before "${type}"`))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`worker ${this.child.pid} sent no "${type}" within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (message.type === 'failed') throw new Error(`worker ${this.child.pid} failed: ${message.error}`);
    if (message.type !== type) throw new Error(`worker ${this.child.pid} sent "${message.type}", expected "${type}"`);
    return message as Extract<WorkerMessage, { type: T }>;
  }

  send(message: ParentMessage): void {
    if (this.child.connected) this.child.send(message);
  }

  /** Asks it to close its contexts and exit; SIGKILL if it has not within the timeout. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.send({ type: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Splits `instances` over processes of at most `perProcess` each: 30 -> 10, 10, 10. */
function splitInstances(instances: number, perProcess: number): number[] {
  const processes = Math.ceil(instances / perProcess);
  return Array.from({ length: processes }, (_, i) => Math.floor(instances / processes) + (i < instances % processes ? 1 : 0));
}

async function runSize(
  topology: Topology, nodes: RedisNodeAddress[], connection: WorkerConfig['connection'], instances: number, settings: Settings,
): Promise<ScaleRow> {
  await Promise.all(nodes.map((node) => sendCommand(node, ['FLUSHALL'], 10_000)));
  const workload = { ...WORKLOAD, rateLimitTimeoutMs: settings.rateLimitTimeoutMs };
  const prefix = `scale${instances}`;
  const workers = splitInstances(instances, settings.perProcess).map(
    (count, worker) => new Worker({ worker, instances: count, connection, prefix, originNs: String(origin), workload }),
  );
  try {
    await Promise.all(workers.map((w) => w.next('ready', BOOT_TIMEOUT_MS)));
    const connected = await readCounters(nodes);
    // Warm-up (connections' first scripts, JIT) is left out of rates, latencies and costs, not of the checks.
    const warmupUs = Math.min(1, settings.seconds / 10) * 1e6;
    const startUs = nowUs();
    const measureFromUs = startUs + warmupUs;
    const endUs = startUs + settings.seconds * 1e6;
    for (const w of workers) w.send({ type: 'go', measureFromUs, endUs });
    await sleep((measureFromUs - nowUs()) / 1_000);
    const before = await readCounters(nodes);
    const results: WorkerResult[] = (await Promise.all(workers.map((w) => w.next('result', settings.seconds * 1_000 + 60_000)))).map((m) => m.result);
    const after = await readCounters(nodes);
    // The fence replay, after the counters: every recorded token of each lock re-sent (the highest
    // first), so that the audit has a known set of stale writes at every size.
    const byLock = new Map<number, Set<number>>();
    for (const r of results) {
      for (const [lock, token] of r.holds) {
        if (!byLock.has(lock)) byLock.set(lock, new Set());
        byLock.get(lock)!.add(token);
      }
    }
    const tokens = [...byLock].map(([lock, set]) => ({ lock, tokens: [...set].sort((a, b) => a - b) }));
    workers[0].send({ type: 'replay', tokens });
    const replay = (await workers[0].next('replayed', 120_000)).writes;
    return analyzeRun({ topology, instances, workload, measureFromUs, results, replay, before, after, connected, cores: os.cpus().length, loadAverage: os.loadavg()[0], cpuPressure: cpuPressure() });
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

async function runTopology(topology: Topology, settings: Settings): Promise<ScaleRow[]> {
  let nodes: RedisNodeAddress[];
  let connection: WorkerConfig['connection'];
  let stop: () => Promise<void>;
  if (topology === 'standalone') {
    const server = await startRedisServer();
    nodes = [{ host: server.host, port: server.port }];
    connection = { url: server.url };
    stop = () => server.stop();
  } else {
    const cluster = await startRedisCluster();
    nodes = cluster.nodes;
    connection = { cluster: cluster.nodes };
    stop = () => cluster.stop();
  }
  const rows: ScaleRow[] = [];
  try {
    for (const instances of settings.sizes) {
      const started = Date.now();
      const row = await runSize(topology, nodes, connection, instances, settings);
      rows.push(row);
      console.error(`scale: ${topology} × ${instances} instances done in ${((Date.now() - started) / 1000).toFixed(1)} s${row.failures.length ? ' (FAILED)' : ''}`);
    }
  } finally {
    await stop();
  }
  return rows;
}

function header(settings: Settings, redisVersion: string): string {
  const cpus = os.cpus();
  const w = WORKLOAD;
  return [
    `## Scale run (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}, Redis ${redisVersion}; ` +
      `load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}.`,
    `Workload: ${settings.seconds} s per size (the first ${Math.min(1, settings.seconds / 10)} s warm-up, left out of rates, latencies and costs), ` +
      `up to ${settings.perProcess} module instances per process; every instance runs one lock loop and one rate-limit loop at once. ` +
      `Locks: ${w.locks} keys, acquire (waitMs ${w.lockWaitMs}, ttlMs ${w.lockTtlMs}) → checkFence write → release → pause ${w.lockThinkMs / 2}-${w.lockThinkMs * 1.5} ms; ` +
      `${w.lateWriteShare * 100} % of holds followed by a late write with the released token after 0-${w.lateWriteMaxDelayMs} ms (a stalled holder). ` +
      `Rate limits: ${w.rateLimitKeys} keys, up to ${w.decisionsPerInstancePerSec} decisions/s per instance, exact sliding window, ${w.limit} per ${w.windowMs} ms, ` +
      `deny cache off (every decision goes to Redis), rateLimit.timeoutMs ${settings.rateLimitTimeoutMs}.`,
    'Redis µs/op, B/op, cmds/op: INFO cpu (user + sys), net bytes in and out and commands processed (a script and each redis.call in it count) over the measured window (summed over the masters of the cluster), ' +
      'divided by the library calls that reached Redis (lock acquire, fenced write, release, late write; rate-limit decisions). ' +
      'node µs/op: CPU time of the worker processes over the same window and calls. CPU busy: (Redis + worker CPU) ÷ (wall time × cores); other work on the machine comes on top.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  const version = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
  console.log(header(settings, /v=(\S+)/.exec(version)?.[1] ?? 'unknown'));
  const failures: string[] = [];
  for (const topology of settings.topologies) {
    const rows = await runTopology(topology, settings);
    console.log(renderTopology(topology, rows));
    console.log(renderGrowth(rows));
    console.log(renderNotes(rows));
    failures.push(...rows.flatMap((r) => r.failures));
  }
  if (failures.length > 0) {
    console.log(`INVARIANTS FAILED:\n${failures.map((f) => `- ${f}`).join('\n')}`);
    process.exitCode = 1;
  } else {
    console.log('All invariants held: no overlapping holders, no lock lost, every stale write refused (replay included), never more than the limit admitted in any window, no decision of unknown outcome.');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
