/** Labels of one series, e.g. `{ tenant: 'acme', algorithm: 'gcra' }`. Never mutate one after passing it in. */
export type MetricLabels = Readonly<Record<string, string | number | boolean>>;

export interface CounterSnapshot {
  name: string;
  labels: MetricLabels;
  value: number;
}

/** A counter series bound once (see MetricsRegistry.counterOf). */
export interface CounterHandle {
  add(by?: number): void;
  /** The series' value now (increments through `increment()` included). */
  readonly value: number;
}

/**
 * The last value set for a gauge series (see MetricsRegistry.setGauge).
 *
 * @example
 * for (const { name, labels, value } of metrics.snapshot().gauges) exporter.gauge(name, value, labels);
 */
export interface GaugeSnapshot {
  name: string;
  labels: MetricLabels;
  value: number;
}

export interface HistogramSnapshot {
  name: string;
  labels: MetricLabels;
  count: number;
  sum: number;
  /** Cumulative counts per upper bound (ms), Prometheus style; the last bound is +Infinity. */
  buckets: Array<{ le: number; count: number }>;
  p50: number;
  p99: number;
}

/** Upper bounds (ms) of histogram buckets: fine below 10 ms where Redis round trips live. */
export const DEFAULT_BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, Infinity];

/** A histogram series bound once (see MetricsRegistry.histogramOf). */
export interface HistogramHandle {
  /** Records one observation; a non-finite or negative value is a caller bug and is dropped. */
  observe(ms: number): void;
}

class Histogram implements HistogramHandle {
  readonly counts = new Array<number>(DEFAULT_BUCKETS_MS.length).fill(0);
  count = 0;
  sum = 0;

  observe(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.count += 1;
    this.sum += ms;
    const index = DEFAULT_BUCKETS_MS.findIndex((le) => ms <= le);
    this.counts[index] += 1;
  }

  /** Upper bound of the bucket holding quantile q; coarse, but constant memory. */
  quantile(q: number): number {
    const target = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= target && this.count > 0) return DEFAULT_BUCKETS_MS[i];
    }
    return 0;
  }
}

/**
 * In-process counters, gauges and histograms of one module instance (acquire latency, wait
 * time, cache hits, rate-limit denials, stream lag, ...). Constant memory per series; export
 * `snapshot()` to Prometheus, OpenTelemetry or logs.
 *
 * @example
 * metrics.increment('lock_acquired_total', { tenant: 'acme' });
 * metrics.observe('lock_wait_ms', 12.5);
 * metrics.setGauge('streams_group_lag', 42, { stream: 'orders', group: 'billing' });
 * metrics.snapshot().counters;
 */
export class MetricsRegistry {
  private readonly counters = new Map<string, CounterSnapshot>();
  private readonly gaugeSeries = new Map<string, GaugeSnapshot>();
  private readonly histograms = new Map<string, { name: string; labels: MetricLabels; histogram: Histogram }>();

  increment(name: string, labels: MetricLabels = {}, by = 1): void {
    const id = seriesId(name, labels);
    const counter = this.counters.get(id);
    if (counter) counter.value += by;
    else this.counters.set(id, { name, labels, value: by });
  }

  /**
   * One counter series, to increment on a hot path without looking it up on every call. The
   * series appears in `snapshot()` (at 0) from this call on.
   *
   * @example
   * const hits = metrics.counterOf('cache_hits_total', { layer: 'l1' });
   * hits.add();    // as metrics.increment('cache_hits_total', { layer: 'l1' })
   * hits.add(3);
   */
  counterOf(name: string, labels: MetricLabels = {}): CounterHandle {
    const id = seriesId(name, labels);
    let counter = this.counters.get(id);
    if (!counter) this.counters.set(id, (counter = { name, labels, value: 0 }));
    const series = counter;
    return {
      add: (by = 1) => void (series.value += by),
      get value() {
        return series.value;
      },
    };
  }

  /** Records one observation; a non-finite or negative value is a caller bug and is dropped. */
  observe(name: string, valueMs: number, labels: MetricLabels = {}): void {
    this.histogramOf(name, labels).observe(valueMs);
  }

  /**
   * One histogram series, to observe on a hot path without looking it up on every call. The
   * series appears in `snapshot()` (with count 0) from this call on.
   *
   * @example
   * const handlerMs = metrics.histogramOf('streams_handler_ms', { stream: 'orders', group: 'billing' });
   * handlerMs.observe(12.5); // as metrics.observe('streams_handler_ms', 12.5, { stream: 'orders', group: 'billing' })
   */
  histogramOf(name: string, labels: MetricLabels = {}): HistogramHandle {
    const id = seriesId(name, labels);
    let series = this.histograms.get(id);
    if (!series) this.histograms.set(id, (series = { name, labels, histogram: new Histogram() }));
    return series.histogram;
  }

  /** Current value of a counter (0 when never incremented). */
  counter(name: string, labels: MetricLabels = {}): number {
    return this.counters.get(seriesId(name, labels))?.value ?? 0;
  }

  /**
   * Sets a gauge series to `value` (a level that goes up and down, such as a backlog), replacing
   * the last one. A non-finite value is a caller bug and is dropped.
   *
   * @example
   * metrics.setGauge('streams_group_pending', 3, { stream: 'orders', group: 'billing' });
   */
  setGauge(name: string, value: number, labels: MetricLabels = {}): void {
    if (!Number.isFinite(value)) return;
    const id = seriesId(name, labels);
    const gauge = this.gaugeSeries.get(id);
    if (gauge) gauge.value = value;
    else this.gaugeSeries.set(id, { name, labels, value });
  }

  /**
   * The last value set for a gauge series; undefined when it was never set (unlike a counter, a
   * gauge has no natural zero: "no backlog" and "not measured yet" differ).
   *
   * @example
   * metrics.gauge('streams_group_lag', { stream: 'orders', group: 'billing' }); // 42, or undefined
   */
  gauge(name: string, labels: MetricLabels = {}): number | undefined {
    return this.gaugeSeries.get(seriesId(name, labels))?.value;
  }

  /**
   * Removes a gauge series whose source went away (the last consumer of a stream group stopped),
   * so that exporters stop reporting a stale level; `gauge()` answers undefined again.
   *
   * @example
   * metrics.removeGauge('streams_group_lag', { stream: 'orders', group: 'billing', tenant: 'acme' });
   */
  removeGauge(name: string, labels: MetricLabels = {}): void {
    this.gaugeSeries.delete(seriesId(name, labels));
  }

  snapshot(): { counters: CounterSnapshot[]; gauges: GaugeSnapshot[]; histograms: HistogramSnapshot[] } {
    return {
      counters: [...this.counters.values()].map((c) => ({ ...c })),
      gauges: [...this.gaugeSeries.values()].map((g) => ({ ...g })),
      histograms: [...this.histograms.values()].map(({ name, labels, histogram }) => {
        let cumulative = 0;
        return {
          name,
          labels,
          count: histogram.count,
          sum: histogram.sum,
          buckets: DEFAULT_BUCKETS_MS.map((le, i) => ({ le, count: (cumulative += histogram.counts[i]) })),
          p50: histogram.quantile(0.5),
          p99: histogram.quantile(0.99),
        };
      }),
    };
  }
}

// Hot paths pass the same constant label objects on every call: remember their encoding.
const labelSuffixes = new WeakMap<MetricLabels, string>();

function seriesId(name: string, labels: MetricLabels): string {
  let suffix = labelSuffixes.get(labels);
  if (suffix === undefined) {
    const keys = Object.keys(labels).sort();
    // JSON-quoting keeps label values containing "," or "=" from colliding with other label sets.
    suffix = keys.length === 0 ? '' : JSON.stringify(keys.map((k) => [k, labels[k]]));
    labelSuffixes.set(labels, suffix);
  }
  return name + suffix;
}
