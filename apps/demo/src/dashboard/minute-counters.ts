const MINUTE_MS = 60_000;

/**
 * One minute of `MinuteCounters`: its start (ms since the epoch) and what each counter grew by in it.
 *
 * @example
 * const { minuteMs, allowed, denied }: MinuteSums<'allowed' | 'denied'> = counters.window(Date.now())[0];
 */
export type MinuteSums<K extends string> = { minuteMs: number } & Record<K, number>;

/**
 * Per-minute growth of counters that only go up (running totals, such as the library's metrics),
 * for the last `minutes` minutes. Feed it the totals from time to time (`sample`): what each grew
 * by since the previous sample is added to the minute of the sample. The first sample only sets
 * the starting point. A total lower than the previous one (its counter was reset) counts from 0.
 * Memory is constant: minutes older than the window are dropped.
 *
 * @example
 * const counters = new MinuteCounters(['allowed', 'denied'] as const, 10);
 * counters.sample({ allowed: 0, denied: 0 }, Date.now());
 * counters.sample({ allowed: 7, denied: 1 }, Date.now() + 1_000);
 * counters.window(Date.now()).at(-1); // { minuteMs: ..., allowed: 7, denied: 1 }
 */
export class MinuteCounters<K extends string> {
  private last: Record<K, number> | undefined;
  private readonly sums = new Map<number, Record<K, number>>();

  constructor(private readonly names: readonly K[], private readonly minutes: number) {
    if (!Number.isInteger(minutes) || minutes < 1) throw new RangeError(`minutes must be a positive integer, got ${minutes}`);
  }

  /** Adds what each total grew by since the last sample to the minute of `nowMs`. */
  sample(totals: Readonly<Record<K, number>>, nowMs: number): void {
    const minute = minuteOf(nowMs);
    const previous = this.last;
    this.last = { ...totals };
    for (const kept of this.sums.keys()) if (kept <= minute - this.minutes * MINUTE_MS) this.sums.delete(kept);
    if (previous === undefined) return;
    let sums = this.sums.get(minute);
    if (!sums) this.sums.set(minute, (sums = this.zero()));
    for (const name of this.names) {
      const total = totals[name];
      sums[name] += total >= previous[name] ? total - previous[name] : total;
    }
  }

  /** The `minutes` minutes up to the one of `nowMs`, oldest first; minutes without growth are 0. */
  window(nowMs: number): Array<MinuteSums<K>> {
    const last = minuteOf(nowMs);
    const out: Array<MinuteSums<K>> = [];
    for (let minuteMs = last - (this.minutes - 1) * MINUTE_MS; minuteMs <= last; minuteMs += MINUTE_MS) {
      out.push({ minuteMs, ...(this.sums.get(minuteMs) ?? this.zero()) });
    }
    return out;
  }

  private zero(): Record<K, number> {
    const zero = {} as Record<K, number>;
    for (const name of this.names) zero[name] = 0;
    return zero;
  }
}

/** Start of the minute of `ms` (ms since the epoch). */
export function minuteOf(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}
