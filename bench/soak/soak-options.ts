/**
 * The soak's command line: how long the chaos lasts and the seed of its random choices.
 *
 * `npm run soak -- --minutes 2` (the default), `--seconds 30` (CI's short form), `--seed 42` to
 * replay the same sequence of choices (timings still differ from run to run).
 */
export interface SoakOptions {
  /** How long users are driven while the chaos runs. */
  durationMs: number;
  /** Seed of every random choice (users' actions, chaos intervals, victims). */
  seed: number;
  /**
   * How long the soak waits, once the load stopped, for requests in flight and for the fleet to
   * settle (every acknowledged run in the history, every task ended); then it reads back what is
   * there. Default 75 s: longer than a task whose worker was killed takes to be run again (70 s).
   */
  drainMs: number;
  /**
   * How long an instance's incarnation runs before its RSS level is taken (the baseline the
   * 20 % rule compares against): a quarter of the duration, between 10 s and 30 s.
   */
  warmUpMs: number;
  /** The RSS rule's windows: a sixth of the duration, at most 10 s. */
  rssWindowMs: number;
  /** Where the instances' logs and the soak's own records go. */
  logDir?: string;
}

/** Demo instances the soak runs. */
export const SOAK_INSTANCES = 3;

/** The RSS rule: an incarnation's level at the end is within this fraction of its level after warm-up. */
export const RSS_TOLERANCE = 0.2;

/** Longest soak accepted: it is bounded, and a day is already more than anyone runs by hand. */
const MAX_DURATION_MS = 24 * 3_600_000;

/**
 * Reads the soak's arguments (`process.argv.slice(2)`); throws naming the argument it cannot read.
 *
 * @example
 * parseSoakArgs(['--seconds', '30']); // { durationMs: 30_000, warmUpMs: 10_000, ... }
 */
export function parseSoakArgs(args: readonly string[], now = Date.now()): SoakOptions {
  let durationMs = 2 * 60_000;
  let seed = now % 2_147_483_647;
  let logDir: string | undefined;
  let drainMs: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const name = args[i];
    const value = (): string => {
      const next = args[++i];
      if (next === undefined) throw new Error(`${name} needs a value`);
      return next;
    };
    switch (name) {
      case '--minutes':
        durationMs = positive(name, value()) * 60_000;
        break;
      case '--seconds':
        durationMs = positive(name, value()) * 1_000;
        break;
      case '--seed':
        seed = Math.floor(positive(name, value()));
        break;
      case '--drain-seconds':
        drainMs = positive(name, value()) * 1_000;
        break;
      case '--log-dir':
        logDir = value();
        break;
      default:
        throw new Error(`unknown argument ${JSON.stringify(name)}: use --minutes N or --seconds N, and optionally --seed N, --drain-seconds N, --log-dir DIR`);
    }
  }
  if (durationMs > MAX_DURATION_MS) throw new Error('the soak is bounded: at most 24 hours');
  const warmUpMs = Math.min(30_000, Math.max(10_000, Math.round(durationMs / 4)));
  const rssWindowMs = Math.min(10_000, Math.round(durationMs / 6));
  return { durationMs, seed, warmUpMs, rssWindowMs, drainMs: drainMs ?? 75_000, ...(logDir === undefined ? {} : { logDir }) };
}

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(text)}`);
  return value;
}

/**
 * A small seeded random source (mulberry32): the soak's choices can be replayed with `--seed`.
 *
 * @example
 * const rng = new Random(42);
 * rng.between(1_000, 2_000); // a number in [1000, 2000)
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  int(min: number, maxInclusive: number): number {
    return Math.floor(this.between(min, maxInclusive + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from no items');
    return items[Math.floor(this.next() * items.length)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}
