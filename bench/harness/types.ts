/** What a case gets to build its clients from. One private redis-server per run. */
export interface BenchContext {
  redisUrl: string;
  redisHost: string;
  redisPort: number;
  /** Operations kept in flight for this group (same for every case of the group). */
  concurrency: number;
}

export interface CaseInstance {
  /**
   * One operation; `i` counts up from 0 for this instance (warm-up included).
   * Resolve with nothing to record the op's own duration as the latency sample, or with
   * a number of milliseconds to record that instead (e.g. publish → receive latency).
   * A throw or rejection counts as an error and records no sample.
   */
  op(i: number): Promise<void | number>;
  teardown(): Promise<void>;
}

export interface BenchCase {
  name: string;
  /** Cases with the same group run side by side and are compared. */
  group: string;
  /** Ratios in the group are printed against every case marked baseline. */
  baseline?: boolean;
  setup(ctx: BenchContext): Promise<CaseInstance>;
}

/** `ops`: higher ops/s is better. `p50` / `p99`: lower latency is better. */
export type BenchMetric = 'ops' | 'p50' | 'p99';

/** "case is at least `atLeast`× better than `versus` on `metric`" (ratio > 1 = better). */
export interface BenchTarget {
  case: string;
  versus: string;
  atLeast: number;
  metric?: BenchMetric;
}

/** Optional settings for a group, matched to cases by `name`. */
export interface BenchGroupOptions {
  name: string;
  /** Metric for the "vs baseline" column; default 'ops'. */
  metric?: BenchMetric;
  /** Ops in flight; default BENCH_CONCURRENCY or 50. */
  concurrency?: number;
  /** Measure a fixed number of ops per case (split over the two passes) instead of a duration. */
  count?: number;
  targets?: BenchTarget[];
}

/**
 * A one-shot measurement that is not a rate (e.g. how far a fairness scenario gets): it runs once
 * per `npm run bench` (selected by the same filter as groups) and returns the markdown recorded
 * under its name, its own figures and, where there is one, its target MET or MISSED.
 */
export interface BenchProbe {
  name: string;
  run(ctx: BenchContext): Promise<{ text: string; missed: number }>;
}

/** What each `bench/cases/*.bench.ts` module exports. */
export interface BenchSuite {
  cases: BenchCase[];
  groups?: BenchGroupOptions[];
  probes?: BenchProbe[];
}
