import { appendFile } from 'node:fs/promises';
import os from 'node:os';
import type { BenchCase, BenchGroupOptions, BenchMetric, BenchTarget } from './types.js';
import { medianOfRuns, pairedMedian, type CaseStats } from './stats.js';

const METRIC_LABEL: Record<BenchMetric, string> = {
  ops: 'ops/s',
  p50: 'p50',
  p99: 'p99',
  bytesIn: 'B/op in',
  bytesOut: 'B/op out',
  nodeUs: 'node µs/op',
  redisUs: 'Redis µs/op',
};

/** The case's figure for `metric`. */
const figure = (s: CaseStats, metric: BenchMetric): number => (metric === 'ops' ? s.opsPerSec : s[metric]);

/** How many times better `a` is than `b` on `metric` (> 1 = better: more ops/s, or a lower latency or cost). */
export function ratio(a: CaseStats, b: CaseStats, metric: BenchMetric): number {
  return metric === 'ops' ? a.opsPerSec / b.opsPerSec : b[metric] / a[metric];
}

/**
 * A target's figure and verdict from the runs of its two cases (same run order): the median
 * over runs of the per-run ratio, "times better" (`ratio`) for `atLeast`, the case's own figure
 * over the other's for `atMost`. Exactly at the limit is MET; NaN (unknown) is MISSED.
 */
export function checkTarget(t: BenchTarget, caseRuns: CaseStats[], versusRuns: CaseStats[]): { got: number; met: boolean } {
  const m = t.metric ?? 'ops';
  if (t.atMost !== undefined) {
    const got = pairedMedian(caseRuns, versusRuns, (a, b) => figure(a, m) / figure(b, m));
    return { got, met: got <= t.atMost };
  }
  const got = pairedMedian(caseRuns, versusRuns, (a, b) => ratio(a, b, m));
  return { got, met: got >= t.atLeast };
}

const fmtRatio = (r: number) => (Number.isNaN(r) ? 'n/a' : r === Infinity ? '∞' : `${r.toFixed(2)}×`);
const fmtOps = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtMs = (ms: number) => (Number.isNaN(ms) ? 'n/a' : ms.toFixed(ms < 10 ? 3 : ms < 100 ? 2 : 1));
/** Bytes and µs per op: one decimal below 100, whole numbers above. */
const fmtCost = (n: number) => {
  if (!Number.isFinite(n)) return 'n/a';
  const digits = Math.abs(n) < 100 ? 1 : 0;
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
};

/** A markdown table padded so it also reads well in a terminal. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => `| ${cells.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The markdown for one group: table, legend, error notes, targets. Printed and recorded as is. */
export function renderGroup(
  group: string,
  cases: BenchCase[],
  runs: Map<string, CaseStats[]>,
  options: BenchGroupOptions | undefined,
  concurrency: number,
): { text: string; missed: number } {
  const metric = options?.metric ?? 'ops';
  const baselines = cases.filter((c) => c.baseline);
  const repeat = options?.repeat ?? 1;
  // The figures shown: the median of the runs. Ratios: the median of the per-run ratios.
  const stats = new Map([...runs].map(([name, caseRuns]) => [name, medianOfRuns(caseRuns)]));
  const rows = cases.map((c) => {
    const s = stats.get(c.name)!;
    const ratios = baselines.map(
      (b) => `${fmtRatio(pairedMedian(runs.get(c.name)!, runs.get(b.name)!, (x, y) => ratio(x, y, metric)))} ${b.name}`,
    );
    const versus = c.baseline ? 'baseline' : ratios.join(', ') || '-';
    const spread = `${(s.spread * 100).toFixed(1)} %`;
    const costs = [s.bytesIn, s.bytesOut, s.nodeUs, s.redisUs].map(fmtCost);
    return [c.name, fmtOps(s.opsPerSec), fmtMs(s.p50), fmtMs(s.p99), ...costs, String(s.errors), versus, spread];
  });
  const headers = [
    'case', 'ops/s', 'p50 ms', 'p99 ms', 'B/op in', 'B/op out', 'node µs/op', 'Redis µs/op', 'errors',
    `vs baseline (${METRIC_LABEL[metric]})`, repeat > 1 ? 'run Δ' : 'pass Δ',
  ];
  const load = `concurrency ${concurrency}${options?.count ? `, ${options.count} ops per case` : ''}${repeat > 1 ? `, median of ${repeat} runs` : ''}`;
  const lines = [`### ${group}`, '', load, ''];
  lines.push(renderTable(headers, rows), '');
  for (const c of cases) {
    const s = stats.get(c.name)!;
    if (s.firstError) lines.push(`- errors in ${c.name}: ${s.firstError}`);
  }
  let missed = 0;
  for (const t of options?.targets ?? []) {
    const [a, b] = [runs.get(t.case), runs.get(t.versus)];
    const m = t.metric ?? 'ops';
    const { got, met } = a && b ? checkTarget(t, a, b) : { got: NaN, met: false };
    const goal = t.atMost !== undefined
      ? `${METRIC_LABEL[m]} ≤ ${t.atMost}× ${t.versus}'s`
      : `≥ ${t.atLeast}× ${t.versus} on ${METRIC_LABEL[m]}`;
    if (!met) missed++;
    lines.push(`- target ${met ? 'MET' : 'MISSED'}: ${t.case} ${goal} (got ${a && b ? fmtRatio(got) : 'no such case'})`);
  }
  return { text: lines.join('\n').trimEnd(), missed };
}

export interface RunInfo {
  redisVersion: string;
  redisSource: string;
  seconds: number;
  warmupSeconds: number;
  concurrency: number;
  filters: string[];
}

export function renderRunHeader(info: RunInfo): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown cpu';
  const memGb = (os.totalmem() / 2 ** 30).toFixed(1);
  return [
    `## ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC${info.filters.length ? ` (filter: ${info.filters.join(', ')})` : ''}`,
    '',
    `- machine: ${os.type()} ${os.release()} ${os.arch()}, ${cpu}, ${os.availableParallelism()} cores, ${memGb} GiB`,
    `- node ${process.version}, redis-server ${info.redisVersion} (${info.redisSource})`,
    `- BENCH_SECONDS=${info.seconds} per case (2 passes of ${info.seconds / 2} s), warm-up ${info.warmupSeconds} s per pass, default concurrency ${info.concurrency}`,
  ].join('\n');
}

export async function appendResults(file: string, header: string, groups: string[]): Promise<void> {
  await appendFile(file, `\n${header}\n\n${groups.join('\n\n')}\n`);
}
