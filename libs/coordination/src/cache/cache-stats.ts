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
  // Each counter of stats() is its metric series itself, bound once (a hit must not look its
  // counter up); only what the registry has no series for, or shares with EmbeddingCache
  // (cache_errors_total), is counted here.
  private readonly l1HitSeries: CounterHandle;
  private readonly l2HitSeries: CounterHandle;
  private readonly staleSeries: CounterHandle;
  private readonly missSeries: CounterHandle;
  private readonly coalescedSeries: CounterHandle;
  private readonly loaderCallSeries: CounterHandle;
  private readonly loaderErrorSeries: CounterHandle;
  private readonly leaseWaitTimeoutSeries: CounterHandle;
  private readonly refreshSeries: CounterHandle;
  private loaderTimeMs = 0;
  private errors = 0;
  private readonly operations = new Map<string, MetricLabels>();

  constructor(private readonly metrics: MetricsRegistry) {
    this.l1HitSeries = metrics.counterOf('cache_hits_total', L1);
    this.l2HitSeries = metrics.counterOf('cache_hits_total', L2);
    this.staleSeries = metrics.counterOf('cache_hits_total', STALE);
    this.missSeries = metrics.counterOf('cache_misses_total', NONE);
    this.coalescedSeries = metrics.counterOf('cache_coalesced_total', NONE);
    this.loaderCallSeries = metrics.counterOf('cache_loader_calls_total', NONE);
    this.loaderErrorSeries = metrics.counterOf('cache_loader_errors_total', NONE);
    this.leaseWaitTimeoutSeries = metrics.counterOf('cache_lease_wait_timeouts_total', NONE);
    this.refreshSeries = metrics.counterOf('cache_refreshes_total', NONE);
  }

  l1Hit(): void {
    this.l1HitSeries.add();
  }

  l2Hit(): void {
    this.l2HitSeries.add();
  }

  /** A value served from the stale-while-revalidate window (a hit of L2 too). */
  staleServe(): void {
    this.staleSeries.add();
  }

  miss(count = 1): void {
    this.missSeries.add(count);
  }

  /** A miss that waited for a loader already running, here or on another instance. */
  coalesced(): void {
    this.coalescedSeries.add();
  }

  /** A loader call that took `ms` (on the module clock) and threw or not. */
  loaded(ms: number, failed: boolean): void {
    this.loaderTimeMs += ms;
    this.loaderCallSeries.add();
    this.metrics.observe('cache_loader_ms', ms);
    if (failed) this.loaderErrorSeries.add();
  }

  leaseWaitTimedOut(): void {
    this.leaseWaitTimeoutSeries.add();
  }

  refreshStarted(): void {
    this.refreshSeries.add();
  }

  /** A Redis failure of `operation` (degraded or thrown). */
  error(operation: string): void {
    this.errors++;
    let labels = this.operations.get(operation);
    if (!labels) this.operations.set(operation, (labels = Object.freeze({ operation })));
    this.metrics.increment('cache_errors_total', labels);
  }

  snapshot(l1: CacheL1): CacheStats {
    const staleServes = this.staleSeries.value;
    const l2Hits = this.l2HitSeries.value + staleServes;
    const hits = this.l1HitSeries.value + l2Hits;
    const misses = this.missSeries.value;
    const reads = hits + misses;
    return {
      hits,
      misses,
      hitRatio: reads === 0 ? 0 : hits / reads,
      l1Hits: this.l1HitSeries.value,
      l2Hits,
      staleServes,
      loaderCalls: this.loaderCallSeries.value,
      loaderErrors: this.loaderErrorSeries.value,
      loaderTimeMs: this.loaderTimeMs,
      coalesced: this.coalescedSeries.value,
      leaseWaitTimeouts: this.leaseWaitTimeoutSeries.value,
      refreshes: this.refreshSeries.value,
      errors: this.errors,
      l1Entries: l1.size,
      l1Bytes: l1.bytes,
    };
  }
}
