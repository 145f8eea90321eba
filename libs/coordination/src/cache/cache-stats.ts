import type { CounterHandle, MetricLabels, MetricsRegistry } from '../metrics/metrics-registry.js';
import type { CacheL1 } from './cache-l1.js';
import type { CacheStats } from './cache.types.js';

// Label objects are built once: the registry remembers the encoding of each object it has seen.
const L1: MetricLabels = Object.freeze({ layer: 'l1' });
const L2: MetricLabels = Object.freeze({ layer: 'l2' });
const STALE: MetricLabels = Object.freeze({ layer: 'stale' });
const NONE: MetricLabels = Object.freeze({});

/**
 * The counters behind `CacheService.stats()` and the `cache_*` metrics of the module's registry:
 * `cache_hits_total{layer: l1 | l2 | stale}`, `cache_misses_total`, `cache_loader_calls_total`,
 * `cache_loader_errors_total`, `cache_loader_ms` (histogram), `cache_coalesced_total`,
 * `cache_lease_wait_timeouts_total`, `cache_refreshes_total`, `cache_errors_total{operation}`.
 * Library-internal; one per CacheService.
 *
 * @example
 * const meter = new CacheMeter(core.metrics);
 * meter.l2Hit();
 * meter.snapshot(l1).hitRatio; // 1
 */
export class CacheMeter {
  private hits = 0;
  private misses = 0;
  private l1Hits = 0;
  private l2Hits = 0;
  private staleServes = 0;
  private loaderCalls = 0;
  private loaderErrors = 0;
  private loaderTimeMs = 0;
  private coalescedCount = 0;
  private leaseWaitTimeouts = 0;
  private refreshes = 0;
  private errors = 0;
  private readonly operations = new Map<string, MetricLabels>();
  // The series of every read, bound once: a hit must not look its counter up.
  private readonly l1HitSeries: CounterHandle;
  private readonly l2HitSeries: CounterHandle;
  private readonly staleSeries: CounterHandle;
  private readonly missSeries: CounterHandle;

  constructor(private readonly metrics: MetricsRegistry) {
    this.l1HitSeries = metrics.counterOf('cache_hits_total', L1);
    this.l2HitSeries = metrics.counterOf('cache_hits_total', L2);
    this.staleSeries = metrics.counterOf('cache_hits_total', STALE);
    this.missSeries = metrics.counterOf('cache_misses_total', NONE);
  }

  l1Hit(): void {
    this.hits++;
    this.l1Hits++;
    this.l1HitSeries.add();
  }

  l2Hit(): void {
    this.hits++;
    this.l2Hits++;
    this.l2HitSeries.add();
  }

  /** A value served from the stale-while-revalidate window (a hit of L2 too). */
  staleServe(): void {
    this.hits++;
    this.l2Hits++;
    this.staleServes++;
    this.staleSeries.add();
  }

  miss(count = 1): void {
    this.misses += count;
    this.missSeries.add(count);
  }

  /** A miss that waited for a loader already running, here or on another instance. */
  coalesced(): void {
    this.coalescedCount++;
    this.metrics.increment('cache_coalesced_total', NONE);
  }

  /** A loader call that took `ms` (on the module clock) and threw or not. */
  loaded(ms: number, failed: boolean): void {
    this.loaderCalls++;
    this.loaderTimeMs += ms;
    this.metrics.increment('cache_loader_calls_total', NONE);
    this.metrics.observe('cache_loader_ms', ms);
    if (failed) {
      this.loaderErrors++;
      this.metrics.increment('cache_loader_errors_total', NONE);
    }
  }

  leaseWaitTimedOut(): void {
    this.leaseWaitTimeouts++;
    this.metrics.increment('cache_lease_wait_timeouts_total', NONE);
  }

  refreshStarted(): void {
    this.refreshes++;
    this.metrics.increment('cache_refreshes_total', NONE);
  }

  /** A Redis failure of `operation` (degraded or thrown). */
  error(operation: string): void {
    this.errors++;
    let labels = this.operations.get(operation);
    if (!labels) this.operations.set(operation, (labels = Object.freeze({ operation })));
    this.metrics.increment('cache_errors_total', labels);
  }

  snapshot(l1: CacheL1): CacheStats {
    const reads = this.hits + this.misses;
    return {
      hits: this.hits,
      misses: this.misses,
      hitRatio: reads === 0 ? 0 : this.hits / reads,
      l1Hits: this.l1Hits,
      l2Hits: this.l2Hits,
      staleServes: this.staleServes,
      loaderCalls: this.loaderCalls,
      loaderErrors: this.loaderErrors,
      loaderTimeMs: this.loaderTimeMs,
      coalesced: this.coalescedCount,
      leaseWaitTimeouts: this.leaseWaitTimeouts,
      refreshes: this.refreshes,
      errors: this.errors,
      l1Entries: l1.size,
      l1Bytes: l1.bytes,
    };
  }
}
