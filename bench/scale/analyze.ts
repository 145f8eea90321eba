import { percentile } from '../harness/stats.js';
import { auditFence, findOverlaps, maxInWindow, type FenceAudit, type FencedWrite, type Hold } from './checks.js';
import type { Workload, WorkerResult } from './protocol.js';
import type { NodeCounters } from './redis-counters.js';

/** One size of one topology: its figures and the verdict of every invariant. */
export interface ScaleRow {
  topology: string;
  instances: number;
  processes: number;
  /** Seconds the rates are over (warm-up excluded). */
  seconds: number;
  acquisitionsPerSec: number;
  acquireP50Ms: number;
  acquireP99Ms: number;
  /** From a holder's end to the next holder's start, when the next had been waiting. */
  handoffP50Ms: number;
  handoffP99Ms: number;
  lockTimeouts: number;
  holds: number;
  /** Holds that began while a holder that had not lost the lock still held it: must be 0. */
  overlaps: number;
  /** Holds that began while a holder whose lock had expired under it was still running. */
  overlapsAfterLoss: number;
  locksLost: number;
  fence: FenceAudit;
  decisionsPerSec: number;
  decisionP50Ms: number;
  decisionP99Ms: number;
  admitted: number;
  /** Most Redis-answered admissions of one key within any window, over all keys. */
  maxAdmittedPerWindow: number;
  limit: number;
  localDecisions: number;
  localAdmitted: number;
  /**
   * Decisions whose Redis outcome is unknown: answered by the local fallback past
   * rateLimit.timeoutMs, or failed. Redis may have committed them (an admission the window count
   * never sees), so with any of them the sliding-window check is incomplete and fails.
   */
  unknownDecisions: number;
  /** Fence replay after the phase: writes re-sent per lock (highest token first, then the rest in order), and how many refused. */
  replayed: number;
  replayRefused: number;
  /** Library calls that reached Redis in the measured window: lock calls + decisions. */
  ops: number;
  redisUsPerOp: number;
  /** Bytes to Redis, and from Redis (replies and pub/sub deliveries), per op. */
  bytesInPerOp: number;
  bytesOutPerOp: number;
  commandsPerOp: number;
  nodeUsPerOp: number;
  /** (Redis + worker CPU) ÷ (wall time × cores) over the measured window. */
  cpuBusy: number;
  /** connected_clients of the busiest node with every instance up, and maxclients. */
  clients: number;
  maxClients: number;
  /** Largest worker RSS, MB, after the phase. */
  maxRssMb: number;
  /** Worst event-loop delay p99 and max among the workers, ms. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Slowest worker's boot of its instances, s. */
  bootSeconds: number;
  /** 1-minute load average of the machine at the end of the phase. */
  loadAverage: number;
  /** Linux PSI `cpu some avg10` at the end of the phase (0-1): how often a task waited for a CPU. */
  cpuPressure: number;
  errors: number;
  firstError?: string;
  unavailable: number;
  firstUnavailable?: string;
  /** Invariants that failed (empty when all held). */
  failures: string[];
}

export interface RunInput {
  topology: string;
  instances: number;
  workload: Workload;
  measureFromUs: number;
  results: WorkerResult[];
  /** Counters at the start of the measured window and after every worker reported. */
  before: NodeCounters;
  after: NodeCounters;
  /** Counters with every instance connected, before the phase. */
  connected: NodeCounters;
  /** Fence replay after the phase (lock, token, sent µs, answered µs, accepted 1/0), by run.ts. */
  replay?: number[][];
  cores: number;
  loadAverage: number;
  cpuPressure: number;
}

/**
 * Hand-off gaps: for each hold whose acquire was called before the previous hold of its lock
 * ended (it was waiting), the time from that end to its start. Idle locks are left out.
 */
export function handoffGaps(holds: ReadonlyArray<Hold & { called: number }>): number[] {
  const gaps: number[] = [];
  const byLock = new Map<number, Array<Hold & { called: number }>>();
  for (const hold of holds) {
    const group = byLock.get(hold.lock);
    if (group) group.push(hold);
    else byLock.set(hold.lock, [hold]);
  }
  for (const group of byLock.values()) {
    group.sort((a, b) => a.start - b.start);
    for (let i = 1; i < group.length; i++) {
      const previous = group[i - 1];
      if (group[i].called < previous.end) gaps.push(group[i].start - previous.end);
    }
  }
  return gaps;
}

const sortedMs = (us: number[]): Float64Array => Float64Array.from(us, (v) => v / 1_000).sort();

export function analyzeRun(input: RunInput): ScaleRow {
  const { results, workload } = input;
  const holds: Array<Hold & { called: number }> = [];
  const writes: FencedWrite[] = [];
  for (const r of results) {
    for (const [lock, token, called, start, end, sent, replied, accepted, lost] of r.holds) {
      holds.push({ lock, token, start, end, called, ttlMs: workload.lockTtlMs, lost: lost === 1 });
      // accepted -1: the fenced write threw (no answer); the hold still counts, the write does not.
      if (accepted !== -1) writes.push({ lock, token, sent, replied, accepted: accepted === 1, late: false });
    }
    for (const [lock, token, sent, replied, accepted] of r.lateWrites) {
      writes.push({ lock, token, sent, replied, accepted: accepted === 1, late: true });
    }
  }
  // The replay after the phase: writes with old tokens long after their release, as late writes.
  const replay = input.replay ?? [];
  for (const [lock, token, sent, replied, accepted] of replay) {
    writes.push({ lock, token, sent, replied, accepted: accepted === 1, late: true });
  }
  const found = findOverlaps(holds);
  const overlaps = found.filter((o) => !o.afterLoss).length;
  const handoff = Float64Array.from(handoffGaps(holds), (us) => us / 1_000).sort();
  const fence = auditFence(writes);
  let maxAdmittedPerWindow = 0;
  let admitted = 0;
  for (let key = 0; key < workload.rateLimitKeys; key++) {
    const times = results.flatMap((r) => r.admittedAtMs[key]);
    admitted += times.length;
    maxAdmittedPerWindow = Math.max(maxAdmittedPerWindow, maxInWindow(times, workload.windowMs).max);
  }
  const seconds = (Math.max(...results.map((r) => r.lastUs)) - input.measureFromUs) / 1e6;
  const acquire = sortedMs(results.flatMap((r) => r.acquireUs));
  const decisions = sortedMs(results.flatMap((r) => r.decisionUs));
  const sum = (of: (r: WorkerResult) => number): number => results.reduce((total, r) => total + of(r), 0);
  const ops = sum((r) => r.lockCalls) + decisions.length;
  const errors = sum((r) => r.errors);
  const cpuUs = input.after.cpuUs - input.before.cpuUs;
  const netInBytes = input.after.netInBytes - input.before.netInBytes;
  const netOutBytes = input.after.netOutBytes - input.before.netOutBytes;
  const commands = input.after.commands - input.before.commands;
  const row: ScaleRow = {
    topology: input.topology,
    instances: input.instances,
    processes: results.length,
    seconds,
    acquisitionsPerSec: acquire.length / seconds,
    acquireP50Ms: percentile(acquire, 50),
    acquireP99Ms: percentile(acquire, 99),
    handoffP50Ms: percentile(handoff, 50),
    handoffP99Ms: percentile(handoff, 99),
    lockTimeouts: sum((r) => r.lockTimeouts),
    holds: holds.length,
    overlaps,
    overlapsAfterLoss: found.length - overlaps,
    locksLost: sum((r) => r.locksLost),
    fence,
    decisionsPerSec: decisions.length / seconds,
    decisionP50Ms: percentile(decisions, 50),
    decisionP99Ms: percentile(decisions, 99),
    admitted,
    maxAdmittedPerWindow,
    limit: workload.limit,
    localDecisions: sum((r) => r.localDecisions),
    localAdmitted: sum((r) => r.localAdmitted),
    unknownDecisions: sum((r) => r.localDecisions + (r.decisionErrors ?? 0)),
    replayed: replay.length,
    replayRefused: replay.filter((w) => w[4] !== 1).length,
    ops,
    redisUsPerOp: cpuUs / ops,
    bytesInPerOp: netInBytes / ops,
    bytesOutPerOp: netOutBytes / ops,
    commandsPerOp: commands / ops,
    nodeUsPerOp: sum((r) => r.cpuUs) / ops,
    cpuBusy: (cpuUs + sum((r) => r.cpuUs)) / (seconds * 1e6 * input.cores),
    clients: input.connected.clients,
    maxClients: input.connected.maxClients,
    maxRssMb: Math.max(...results.map((r) => r.rssBytes)) / 2 ** 20,
    loopDelayP99Ms: Math.max(...results.map((r) => r.loopDelayP99Ms)),
    loopDelayMaxMs: Math.max(...results.map((r) => r.loopDelayMaxMs)),
    bootSeconds: Math.max(...results.map((r) => r.bootMs)) / 1_000,
    loadAverage: input.loadAverage,
    cpuPressure: input.cpuPressure,
    errors,
    firstError: results.find((r) => r.firstError)?.firstError,
    unavailable: sum((r) => r.unavailable),
    firstUnavailable: results.find((r) => r.firstUnavailable)?.firstUnavailable,
    failures: [],
  };
  row.failures = invariantFailures(row);
  return row;
}

/** The invariants a healthy run keeps; each failure named with its figures. */
export function invariantFailures(row: ScaleRow): string[] {
  const failures: string[] = [];
  const where = `${row.topology}, ${row.instances} instances`;
  if (row.overlaps > 0) failures.push(`${where}: ${row.overlaps} holds began while another instance still held the same lock`);
  // Holds last a few ms under a 10 s TTL: no lease can rightly expire under its holder, so a
  // LockLostError at release means the lock was taken over (or deleted) while held.
  if (row.locksLost > 0) failures.push(`${where}: ${row.locksLost} releases found the lock lost, though no hold comes near the TTL`);
  if (row.fence.stale === 0) failures.push(`${where}: the fence audit saw no stale write, so it checked nothing`);
  if (row.fence.staleAccepted > 0) failures.push(`${where}: ${row.fence.staleAccepted} of ${row.fence.stale} stale writes were accepted by the fence`);
  if (row.fence.wrongRefusals > 0) failures.push(`${where}: ${row.fence.wrongRefusals} writes were refused that no newer token could have preceded`);
  if (row.maxAdmittedPerWindow > row.limit) failures.push(`${where}: ${row.maxAdmittedPerWindow} admitted within one window, limit ${row.limit}`);
  if (row.unknownDecisions > 0) {
    failures.push(`${where}: sliding-window check incomplete: ${row.unknownDecisions} decisions answered locally or failed, whose Redis admission (if any) is not counted`);
  }
  if (row.holds === 0 || row.admitted === 0) failures.push(`${where}: nothing measured (${row.holds} holds, ${row.admitted} admissions)`);
  if (row.errors > 0) failures.push(`${where}: ${row.errors} calls failed unexpectedly, first: ${row.firstError}`);
  if (row.clients >= row.maxClients) failures.push(`${where}: ${row.clients} clients reached maxclients ${row.maxClients}`);
  return failures;
}
