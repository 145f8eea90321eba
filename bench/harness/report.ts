import { appendFile } from 'node:fs/promises';
import os from 'node:os';
import type { BenchCase, BenchGroupOptions, BenchMetric } from './types.js';
import type { CaseStats } from './stats.js';

const METRIC_LABEL: Record<BenchMetric, string> = { ops: 'ops/s', p50: 'p50', p99: 'p99' };

/** How many times better `a` is than `b` on `metric` (> 1 = better: more ops/s or lower latency). */
export function ratio(a: CaseStats, b: CaseStats, metric: BenchMetric): number {
  return metric === 'ops' ? a.opsPerSec / b.opsPerSec : b[metric] / a[metric];
}

const fmtRatio = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : 'n/a');
const fmtOps = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtMs = (ms: number) => (Number.isNaN(ms) ? 'n/a' : ms.toFixed(ms < 10 ? 3 : ms < 100 ? 2 : 1));

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
  stats: Map<string, CaseStats>,
  options: BenchGroupOptions | undefined,
  concurrency: number,
): { text: string; missed: number } {
  const metric = options?.metric ?? 'ops';
  const baselines = cases.filter((c) => c.baseline);
  const rows = cases.map((c) => {
    const s = stats.get(c.name)!;
    const ratios = baselines.map((b) => `${fmtRatio(ratio(s, stats.get(b.name)!, metric))} ${b.name}`);
    const versus = c.baseline ? 'baseline' : ratios.join(', ') || '-';
    const spread = `${(s.spread * 100).toFixed(1)} %`;
    return [c.name, fmtOps(s.opsPerSec), fmtMs(s.p50), fmtMs(s.p99), String(s.errors), versus, spread];
  });
  const headers = ['case', 'ops/s', 'p50 ms', 'p99 ms', 'errors', `vs baseline (${METRIC_LABEL[metric]})`, 'pass Δ'];
  const lines = [`### ${group}`, '', `concurrency ${concurrency}${options?.count ? `, ${options.count} ops per case` : ''}`, ''];
  lines.push(renderTable(headers, rows), '');
  for (const c of cases) {
    const s = stats.get(c.name)!;
    if (s.firstError) lines.push(`- errors in ${c.name}: ${s.firstError}`);
  }
  let missed = 0;
  for (const t of options?.targets ?? []) {
    const [a, b] = [stats.get(t.case), stats.get(t.versus)];
    const m = t.metric ?? 'ops';
    const got = a && b ? ratio(a, b, m) : NaN;
    const met = got >= t.atLeast;
    if (!met) missed++;
    lines.push(`- target ${met ? 'MET' : 'MISSED'}: ${t.case} ≥ ${t.atLeast}× ${t.versus} on ${METRIC_LABEL[m]} (got ${a && b ? fmtRatio(got) : 'no such case'})`);
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
