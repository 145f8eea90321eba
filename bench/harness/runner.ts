import type { BenchCase, BenchContext, BenchGroupOptions, CaseInstance } from './types.js';
import type { BenchRedis } from './redis.js';
import { summarize, type CaseStats, type PassCost, type PassResult } from './stats.js';

export interface RunSettings {
  /** Measured seconds per case, split evenly over the passes. */
  seconds: number;
  /** Warm-up seconds before each measured pass (not recorded). */
  warmupSeconds: number;
  concurrency: number;
}

/** Every case runs once per pass: forward order, then reverse order, to cancel drift. */
const PASSES = 2;
/** A pass in which no op settles for this long is abandoned (a hung case must not hang the run). */
const STALL_SECONDS = 10;

interface Load {
  concurrency: number;
  seconds?: number;
  count?: number;
}

function positiveEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value > 0)) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

export function settingsFromEnv(): RunSettings {
  return {
    seconds: positiveEnv('BENCH_SECONDS', 3),
    warmupSeconds: positiveEnv('BENCH_WARMUP_SECONDS', 0.5),
    concurrency: Math.round(positiveEnv('BENCH_CONCURRENCY', 50)),
  };
}

/** Keeps `concurrency` ops in flight until the time or op budget is spent. */
async function drive(instance: CaseInstance, load: Load, counter: { next: number }): Promise<PassResult> {
  const result: PassResult = { ops: 0, errors: 0, seconds: 0, samples: [] };
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round((load.seconds ?? 0) * 1e9));
  let started = 0;
  let inFlight = 0;
  let lastSettled = Date.now();
  let closed = false;
  const more = () =>
    !closed && (load.count !== undefined ? started < load.count : process.hrtime.bigint() < deadline);

  const worker = async () => {
    while (more()) {
      started++;
      inFlight++;
      const t0 = process.hrtime.bigint();
      try {
        const measured = await instance.op(counter.next++);
        const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
        if (closed) continue;
        result.samples.push(typeof measured === 'number' ? measured : elapsedMs);
        result.ops++;
      } catch (err) {
        if (closed) continue;
        result.errors++;
        result.firstError ??= err instanceof Error ? err.message : String(err);
      } finally {
        inFlight--;
        lastSettled = Date.now();
      }
    }
  };

  // A pass whose ops stop settling for STALL_SECONDS is abandoned; the pending ops count as errors.
  let watchdog: NodeJS.Timeout | undefined;
  const stalled = new Promise<boolean>((resolve) => {
    watchdog = setInterval(() => {
      if (inFlight > 0 && Date.now() - lastSettled > STALL_SECONDS * 1000) resolve(true);
    }, 1000);
  });
  const workers = Promise.all(Array.from({ length: load.concurrency }, worker)).then(() => false);
  const gaveUp = await Promise.race([workers, stalled]);
  clearInterval(watchdog);
  closed = true;
  result.seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (gaveUp) {
    result.errors += inFlight;
    result.firstError ??= `${inFlight} ops did not settle within ${STALL_SECONDS} s`;
  }
  return result;
}

/** What the runner needs of the run's redis-server: a flush before each pass, its counters. */
export type PassRedis = Pick<BenchRedis, 'flushAll' | 'counters' | 'counterRequestBytes'>;

/**
 * Measures the cost of the window from this call to the returned function's: Redis bytes in
 * and out and Redis CPU (INFO deltas, whatever every client did meanwhile: the case's ops and
 * its own background traffic such as idle connections' pings, which thus count as its cost),
 * minus the bytes of the harness's own INFO calls (the closing request, the opening reply; their
 * Redis CPU stays in); and this process's CPU (`process.cpuUsage()`).
 */
async function openCostWindow(redis: PassRedis): Promise<() => Promise<PassCost>> {
  const redisBefore = await redis.counters();
  const nodeBefore = process.cpuUsage();
  return async () => {
    const node = process.cpuUsage(nodeBefore);
    const redisAfter = await redis.counters();
    return {
      bytesIn: redisAfter.netInBytes - redisBefore.netInBytes - redis.counterRequestBytes,
      bytesOut: redisAfter.netOutBytes - redisBefore.netOutBytes - redisBefore.replyBytes,
      nodeUs: node.user + node.system,
      redisUs: redisAfter.cpuUs - redisBefore.cpuUs,
    };
  };
}

/** setup → warm-up → measured run → teardown, for one case in one pass. */
async function runPass(benchCase: BenchCase, ctx: BenchContext, measured: Load, warmup: Load, redis: PassRedis): Promise<PassResult> {
  let instance: CaseInstance;
  try {
    instance = await benchCase.setup(ctx);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ops: 0, errors: 1, seconds: 0, samples: [], firstError: `setup failed: ${message}` };
  }
  try {
    const counter = { next: 0 };
    await drive(instance, warmup, counter);
    const closeCostWindow = await openCostWindow(redis);
    const result = await drive(instance, measured, counter);
    result.cost = await closeCostWindow();
    return result;
  } finally {
    await instance.teardown().catch((err) => console.warn(`  teardown of ${benchCase.name} failed:`, err));
  }
}

/**
 * Checks a group's options before anything runs: `count`, `repeat` and `concurrency`, where
 * given, must be positive integers. Throws naming the group and the option.
 */
export function checkGroupOptions(options: BenchGroupOptions): void {
  for (const key of ['count', 'repeat', 'concurrency'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
      throw new Error(`group "${options.name}": ${key} must be a positive integer, got ${value}`);
    }
  }
}

/**
 * Runs every case of one group, PASSES times in alternating order, the whole of that `repeat`
 * times (default once); returns, by case name, the stats of each run in run order (run i of
 * every case measured side by side, so ratios can pair them).
 */
export async function runGroup(
  cases: BenchCase[],
  options: BenchGroupOptions | undefined,
  settings: RunSettings,
  ctx: Omit<BenchContext, 'concurrency'>,
  redis: PassRedis,
): Promise<Map<string, CaseStats[]>> {
  const concurrency = options?.concurrency ?? settings.concurrency;
  const measured: Load = options?.count
    ? { concurrency, count: Math.ceil(options.count / PASSES) }
    : { concurrency, seconds: settings.seconds / PASSES };
  const warmup: Load = options?.count
    ? { concurrency, count: Math.max(concurrency, Math.ceil(options.count / 10)) }
    : { concurrency, seconds: settings.warmupSeconds };
  const repeat = options?.repeat ?? 1;

  const runs = new Map<string, CaseStats[]>(cases.map((c) => [c.name, []]));
  for (let run = 0; run < repeat; run++) {
    const passes = new Map<string, PassResult[]>(cases.map((c) => [c.name, []]));
    for (let pass = 0; pass < PASSES; pass++) {
      const order = pass % 2 === 0 ? cases : [...cases].reverse();
      for (const benchCase of order) {
        await redis.flushAll();
        const result = await runPass(benchCase, { ...ctx, concurrency }, measured, warmup, redis);
        passes.get(benchCase.name)!.push(result);
        const rate = result.seconds > 0 ? Math.round(result.ops / result.seconds) : 0;
        const runLabel = repeat > 1 ? `run ${run + 1}/${repeat}  ` : '';
        console.log(`  ${runLabel}pass ${pass + 1}/${PASSES}  ${benchCase.name}: ${rate} ops/s, ${result.errors} errors`);
      }
    }
    for (const [name, results] of passes) runs.get(name)!.push(summarize(results));
  }
  return runs;
}
