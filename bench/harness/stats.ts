/** Raw outcome of one timed pass of one case. */
export interface PassResult {
  ops: number;
  errors: number;
  seconds: number;
  /** Latency samples in ms. */
  samples: number[];
  firstError?: string;
}

/** What the report shows for a case: the mean of its passes. */
export interface CaseStats {
  opsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  /** Relative difference of ops/s between the passes (0.05 = 5 %): a noise indicator. */
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
  const avgRate = mean(rates);
  return {
    opsPerSec: avgRate,
    p50: mean(perPass.map((r) => r.p50)),
    p99: mean(perPass.map((r) => r.p99)),
    errors: passes.reduce((sum, pass) => sum + pass.errors, 0),
    spread: avgRate > 0 ? (Math.max(...rates) - Math.min(...rates)) / avgRate : 0,
    firstError: passes.find((pass) => pass.firstError)?.firstError,
  };
}
