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

/**
 * `ops`: higher ops/s is better. Lower is better for the rest: `p50` / `p99` latency,
 * `bytesIn` / `bytesOut` (bytes clients sent to / received from Redis per op, from INFO stats),
 * `nodeUs` (this process's CPU µs per op), `redisUs` (redis-server CPU µs per op, from INFO cpu).
 */
export type BenchMetric = 'ops' | 'p50' | 'p99' | 'bytesIn' | 'bytesOut' | 'nodeUs' | 'redisUs';

interface TargetBase {
  case: string;
  versus: string;
  /** Default 'ops'. */
  metric?: BenchMetric;
}

/**
 * A goal for a group, printed MET or MISSED. Either `atLeast`: "case is at least `atLeast`×
 * better than `versus` on `metric`" (the ratio of the "vs baseline" column, > 1 = better), or
 * `atMost`: "case's figure ≤ `atMost` × versus's figure", for costs (bytes, µs, latency).
 *
 * @example
 * { case: 'ours', versus: 'redis-semaphore', atLeast: 1.2 } // ops/s ≥ 1.2× theirs
 * { case: 'ours', versus: 'raw floor', metric: 'bytesIn', atMost: 2 } // B/op in ≤ 2× the floor's
 */
export type BenchTarget = TargetBase & ({ atLeast: number; atMost?: never } | { atMost: number; atLeast?: never });

/** Optional settings for a group, matched to cases by `name`. */
export interface BenchGroupOptions {
  name: string;
  /** Metric for the "vs baseline" column; default 'ops'. */
  metric?: BenchMetric;
  /** Ops in flight; default BENCH_CONCURRENCY or 50. */
  concurrency?: number;
  /** Measure a fixed number of ops per case (split over the two passes) instead of a duration; a positive integer. */
  count?: number;
  /**
   * Run the group's passes this many times and report, per case, the median of the runs'
   * results (each figure separately), and as ratios and target figures the median of the
   * per-run ratios; for noisy groups. A positive integer, default 1.
   */
  repeat?: number;
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
