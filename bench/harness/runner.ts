import type { BenchCase, BenchContext, BenchGroupOptions, CaseInstance } from './types.js';
import { summarize, type CaseStats, type PassResult } from './stats.js';

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

/** setup → warm-up → measured run → teardown, for one case in one pass. */
async function runPass(benchCase: BenchCase, ctx: BenchContext, measured: Load, warmup: Load): Promise<PassResult> {
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
    return await drive(instance, measured, counter);
  } finally {
    await instance.teardown().catch((err) => console.warn(`  teardown of ${benchCase.name} failed:`, err));
  }
}

/** Runs every case of one group, PASSES times in alternating order; returns stats by case name. */
export async function runGroup(
  cases: BenchCase[],
  options: BenchGroupOptions | undefined,
  settings: RunSettings,
  ctx: Omit<BenchContext, 'concurrency'>,
  beforeEachPass: () => Promise<void>,
): Promise<Map<string, CaseStats>> {
  const concurrency = options?.concurrency ?? settings.concurrency;
  const measured: Load = options?.count
    ? { concurrency, count: Math.ceil(options.count / PASSES) }
    : { concurrency, seconds: settings.seconds / PASSES };
  const warmup: Load = options?.count
    ? { concurrency, count: Math.max(concurrency, Math.ceil(options.count / 10)) }
    : { concurrency, seconds: settings.warmupSeconds };

  const passes = new Map<string, PassResult[]>(cases.map((c) => [c.name, []]));
  for (let pass = 0; pass < PASSES; pass++) {
    const order = pass % 2 === 0 ? cases : [...cases].reverse();
    for (const benchCase of order) {
      await beforeEachPass();
      const result = await runPass(benchCase, { ...ctx, concurrency }, measured, warmup);
      passes.get(benchCase.name)!.push(result);
      const rate = result.seconds > 0 ? Math.round(result.ops / result.seconds) : 0;
      console.log(`  pass ${pass + 1}/${PASSES}  ${benchCase.name}: ${rate} ops/s, ${result.errors} errors`);
    }
  }
  return new Map([...passes].map(([name, results]) => [name, summarize(results)]));
}
