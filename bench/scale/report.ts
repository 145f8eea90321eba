import { renderTable } from '../harness/report.js';
import type { ScaleRow } from './analyze.js';

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : 'n/a');
const cost = (n: number): string => (Number.isFinite(n) ? n.toFixed(n < 100 ? 1 : 0) : 'n/a');

/** The table of one topology: one row per size. */
export function renderTopology(topology: string, rows: readonly ScaleRow[]): string {
  const headers = [
    'instances', 'lock acq/s', 'acquire p50 / p99 ms', 'hand-off p50 / p99 ms', 'timeouts', 'lost', 'overlaps', 'stale writes refused',
    'rl decisions/s', 'decision p50 / p99 ms', 'max admitted / window', 'Redis µs/op', 'B/op in / out', 'cmds/op', 'node µs/op', 'CPU busy',
    'loop delay p99 / max ms', 'clients (busiest node)', 'worker RSS MB',
  ];
  const body = rows.map((r) => [
    `${r.instances} (${r.processes}×${r.instances / r.processes})`,
    int(r.acquisitionsPerSec),
    `${ms(r.acquireP50Ms)} / ${ms(r.acquireP99Ms)}`,
    `${ms(r.handoffP50Ms)} / ${ms(r.handoffP99Ms)}`,
    int(r.lockTimeouts),
    int(r.locksLost),
    r.overlapsAfterLoss > 0 ? `${int(r.overlaps)} (+${int(r.overlapsAfterLoss)} after loss)` : int(r.overlaps),
    `${int(r.fence.staleRefused)} of ${int(r.fence.stale)}`,
    int(r.decisionsPerSec),
    `${ms(r.decisionP50Ms)} / ${ms(r.decisionP99Ms)}`,
    `${r.maxAdmittedPerWindow} ≤ ${r.limit}`,
    cost(r.redisUsPerOp),
    `${cost(r.bytesInPerOp)} / ${cost(r.bytesOutPerOp)}`,
    cost(r.commandsPerOp),
    cost(r.nodeUsPerOp),
    `${Math.round(r.cpuBusy * 100)} %`,
    `${ms(r.loopDelayP99Ms)} / ${ms(r.loopDelayMaxMs)}`,
    `${r.clients} / ${r.maxClients}`,
    int(r.maxRssMb),
  ]);
  return `### ${topology}\n\n${renderTable(headers, body)}\n`;
}

/** How each figure moves from the smallest size to the larger ones, as values and factors. */
export function renderGrowth(rows: readonly ScaleRow[]): string {
  if (rows.length < 2) return '';
  const first = rows[0];
  const sizes = rows.map((r) => r.instances).join(' → ');
  const line = (label: string, of: (r: ScaleRow) => number, format: (n: number) => string): string => {
    const values = rows.map((r) => format(of(r))).join(' → ');
    const factors = rows.slice(1).map((r) => `×${(of(r) / of(first)).toFixed(2)}`).join(', ');
    return `- ${label}: ${values} (${factors})`;
  };
  return [
    `Growth from ${sizes} instances:`,
    line('Redis µs per op', (r) => r.redisUsPerOp, cost),
    line('bytes per op to Redis', (r) => r.bytesInPerOp, cost),
    line('bytes per op from Redis', (r) => r.bytesOutPerOp, cost),
    line('lock acquisitions/s', (r) => r.acquisitionsPerSec, int),
    line('node µs per op', (r) => r.nodeUsPerOp, cost),
    line('acquire p99 ms', (r) => r.acquireP99Ms, ms),
    line('hand-off p50 ms', (r) => r.handoffP50Ms, ms),
    line('rate-limit decisions/s', (r) => r.decisionsPerSec, int),
    line('decision p99 ms', (r) => r.decisionP99Ms, ms),
    '',
  ].join('\n');
}

/** Notes under a topology's table: the fence audit in full, fallbacks, timeouts, failures. */
export function renderNotes(rows: readonly ScaleRow[]): string {
  const notes = rows.map((r) => {
    const f = r.fence;
    const parts = [
      `${r.instances} instances (booted in ${r.bootSeconds.toFixed(1)} s; at the end load average ${r.loadAverage.toFixed(1)}, ` +
        `CPU pressure ${Number.isNaN(r.cpuPressure) ? 'n/a' : `${Math.round(r.cpuPressure * 100)} %`}) over ${r.seconds.toFixed(1)} s: ${int(r.holds)} holds, ${int(f.writes)} fenced writes`,
      `(${int(f.refused)} refused; ${int(f.stale)} stale, ${int(f.staleInSection)} of them inside a critical section; ${int(f.undecided)} raced a newer write)`,
      `fence replay after the phase: ${int(r.replayRefused)} of ${int(r.replayed)} re-sent writes refused (all but the highest token of each lock must be)`,
      `${int(r.admitted)} admissions`,
    ];
    if (r.unavailable > 0) parts.push(`${int(r.unavailable)} calls refused as Redis unavailable (no answer in time; first: ${r.firstUnavailable})`);
    if (r.localDecisions > 0) parts.push(`${int(r.localDecisions)} decisions by the local fallback (${int(r.localAdmitted)} admitted, outside the shared check)`);
    if (r.unknownDecisions > 0) parts.push(`sliding-window check INCOMPLETE: ${int(r.unknownDecisions)} decisions of unknown Redis outcome (local fallback or failed)`);
    if (r.failures.length > 0) parts.push(`FAILED: ${r.failures.join('; ')}`);
    return `- ${parts.join(', ')}`;
  });
  return `${notes.join('\n')}\n`;
}
