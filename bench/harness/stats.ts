/** Raw outcome of one timed pass of one case. */
export interface PassResult {
  ops: number;
  errors: number;
  seconds: number;
  /** Latency samples in ms. */
  samples: number[];
  firstError?: string;
  /**
   * Cost of the measured window (the bytes of the harness's own INFO calls taken out);
   * undefined when the pass measured nothing (its setup failed), which makes the case's cost
   * figures NaN.
   */
  cost?: PassCost;
}

/** Totals over one measured window: bytes clients sent to / received from Redis, CPU µs. */
export interface PassCost {
  bytesIn: number;
  bytesOut: number;
  nodeUs: number;
  redisUs: number;
}

/** What the report shows for a case: the mean of its passes (the median of its runs with `repeat`). */
export interface CaseStats {
  opsPerSec: number;
  p50: number;
  p99: number;
  /** Per completed op, over all passes (total ÷ ops); NaN when unknown. */
  bytesIn: number;
  bytesOut: number;
  nodeUs: number;
  redisUs: number;
  errors: number;
  /**
   * A noise indicator, the "pass Δ" column (0.05 = 5 %): for one run, (max − min) ÷ mean of
   * the passes' ops/s; for the median of several runs (`repeat`), (max − min) ÷ median of the
   * runs' ops/s, the spread of the figures the median was taken of.
   */
  spread: number;
  firstError?: string;
}

/** Nearest-rank percentile of ascending-sorted values; NaN when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Median of the values that are not NaN (mean of the middle two for an even count); NaN when none. */
export function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Relative spread of ops/s rates, (max − min) ÷ `center`: the "pass Δ" column. */
function spreadOf(rates: number[], center: number): number {
  return center > 0 ? (Math.max(...rates) - Math.min(...rates)) / center : 0;
}

export function summarize(passes: PassResult[]): CaseStats {
  const perPass = passes.map((pass) => {
    const sorted = Float64Array.from(pass.samples).sort();
    return {
      opsPerSec: pass.seconds > 0 ? pass.ops / pass.seconds : 0,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
    };
  });
  const rates = perPass.map((r) => r.opsPerSec);
  const ops = passes.reduce((sum, pass) => sum + pass.ops, 0);
  // Costs are summed over the passes and divided by all their ops: a short pass weighs less.
  const perOp = (field: keyof PassCost) =>
    ops > 0 ? passes.reduce((sum, pass) => sum + (pass.cost?.[field] ?? NaN), 0) / ops : NaN;
  return {
    opsPerSec: mean(rates),
    p50: mean(perPass.map((r) => r.p50)),
    p99: mean(perPass.map((r) => r.p99)),
    bytesIn: perOp('bytesIn'),
    bytesOut: perOp('bytesOut'),
    nodeUs: perOp('nodeUs'),
    redisUs: perOp('redisUs'),
    errors: passes.reduce((sum, pass) => sum + pass.errors, 0),
    spread: spreadOf(rates, mean(rates)),
    firstError: passes.find((pass) => pass.firstError)?.firstError,
  };
}

/**
 * One row from several runs of the same case (`repeat`): each figure is the median of the
 * runs' figures, errors are summed, and the spread is that of the runs' ops/s around their
 * median. One run is returned as is.
 */
export function medianOfRuns(runs: CaseStats[]): CaseStats {
  if (runs.length === 1) return runs[0];
  const of = (field: 'opsPerSec' | 'p50' | 'p99' | 'bytesIn' | 'bytesOut' | 'nodeUs' | 'redisUs') =>
    median(runs.map((run) => run[field]));
  const rates = runs.map((run) => run.opsPerSec);
  return {
    opsPerSec: of('opsPerSec'),
    p50: of('p50'),
    p99: of('p99'),
    bytesIn: of('bytesIn'),
    bytesOut: of('bytesOut'),
    nodeUs: of('nodeUs'),
    redisUs: of('redisUs'),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    spread: spreadOf(rates, median(rates)),
    firstError: runs.find((run) => run.firstError)?.firstError,
  };
}

/**
 * The median over runs of a per-run comparison `of(a[i], b[i])`: run i of both cases was
 * measured side by side, so each ratio keeps that pairing (a ratio of medians would not).
 * Runs whose comparison is NaN are left out; NaN when none is left.
 */
export function pairedMedian(a: CaseStats[], b: CaseStats[], of: (a: CaseStats, b: CaseStats) => number): number {
  if (a.length !== b.length) throw new Error(`cannot pair ${a.length} runs with ${b.length}`);
  return median(a.map((run, i) => of(run, b[i])));
}
