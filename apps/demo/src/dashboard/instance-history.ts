import { Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { CacheService, CoordinationCore } from '@nest-coordination/core';
import { MinuteCounters, type MinuteSums } from './minute-counters.js';

/** Minutes of history the dashboard shows (rate-limit decisions, violations, recent cache hit ratio). */
export const DASHBOARD_MINUTES = 10;

/** How often the instance's counters are sampled into their minutes. */
export const SAMPLE_INTERVAL_MS = 1_000;

/**
 * The library's counter of rate-limit checks, once per check whatever its number of rules, by
 * `outcome` (allowed, denied) and `source` (summed over sources).
 */
const CHECKS = 'ratelimit_checks_total';

/** What `InstanceHistory` keeps per minute. */
export type InstanceCounter = 'allowed' | 'denied' | 'cacheHits' | 'cacheMisses';

const COUNTERS: readonly InstanceCounter[] = ['allowed', 'denied', 'cacheHits', 'cacheMisses'];

/**
 * This instance's rate-limit decisions (the library's `ratelimit_checks_total` counter in
 * `core.metrics`, one per checked request, every source) and cache reads
 * (`CacheService.stats()`), sampled every `SAMPLE_INTERVAL_MS` into per-minute sums for the
 * last `DASHBOARD_MINUTES` minutes. Both are counted per instance, not per company: the
 * dashboard says so. Starts at bootstrap, stops at shutdown.
 *
 * @example
 * const minutes = history.minutes(Date.now()); // [{ minuteMs, allowed, denied, cacheHits, cacheMisses }, ...] oldest first
 */
@Injectable()
export class InstanceHistory implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly counters = new MinuteCounters(COUNTERS, DASHBOARD_MINUTES);
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly core: CoordinationCore, private readonly cache: CacheService) {}

  onApplicationBootstrap(): void {
    this.sample(Date.now());
    this.timer = setInterval(() => this.sample(Date.now()), SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  beforeApplicationShutdown(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the running totals now and adds their growth to the minute of `nowMs` (the timer calls it; tests too). */
  sample(nowMs: number): void {
    let allowed = 0;
    let denied = 0;
    // The live series, not `snapshot()`: that copies every series and computes quantiles, every second.
    for (const { name, labels, value } of this.core.metrics.liveCounters()) {
      if (name !== CHECKS) continue;
      if (labels.outcome === 'allowed') allowed += value;
      else denied += value;
    }
    const { hits, misses } = this.cache.stats();
    this.counters.sample({ allowed, denied, cacheHits: hits, cacheMisses: misses }, nowMs);
  }

  /** The last `DASHBOARD_MINUTES` minutes up to the one of `nowMs`, oldest first. */
  minutes(nowMs: number): Array<MinuteSums<InstanceCounter>> {
    return this.counters.window(nowMs);
  }
}
