import { InvalidArgumentError } from '../errors/coordination.error.js';

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

/**
 * Upper bounds (ms) of histogram buckets: fine below 10 ms where Redis round trips live (0.1 and
 * 0.25 for a Redis on the same host or in the same rack).
 *
 * @example
 * const exporterBoundaries = DEFAULT_BUCKETS_MS.filter(Number.isFinite); // OTel's explicitBucketBoundaries
 */
export const DEFAULT_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, Infinity];

/** A histogram series bound once (see MetricsRegistry.histogramOf). */
export interface HistogramHandle {
  /** Records one observation; a non-finite or negative value is a caller bug and is dropped. */
  observe(ms: number): void;
}

/** A counter or gauge series as the registry holds it: `value` is live (read it when exporting). */
export interface LiveSeries {
  readonly name: string;
  readonly labels: MetricLabels;
  readonly value: number;
}

/** Receives each observation of one histogram series (bound once per series by a MetricsListener). */
export type HistogramSink = (ms: number) => void;

/**
 * An exporter attached to a registry (see MetricsRegistry.attach): told about every series once,
 * when it appears, so that it can bind whatever it needs per series rather than per call.
 *
 * @example
 * const detach = metrics.attach({
 *   counterOrGauge: (kind, series) => exported.add(series),
 *   histogram: (name, labels) => (ms) => otelHistogram.record(ms, toAttributes(labels)),
 * });
 */
export interface MetricsListener {
  /** A counter or gauge series appeared; read `series.value` when exporting (a removed gauge is no longer listed by `liveGauges()`). */
  counterOrGauge(kind: 'counter' | 'gauge', series: LiveSeries): void;
  /** A histogram series appeared: the sink returned receives each of its observations from now on. */
  histogram(name: string, labels: MetricLabels): HistogramSink | undefined;
}

class Histogram implements HistogramHandle {
  readonly counts = new Array<number>(DEFAULT_BUCKETS_MS.length).fill(0);
  count = 0;
  sum = 0;
  /** Set only while an exporter is attached: one property check per observation otherwise. */
  sink: HistogramSink | undefined = undefined;

  observe(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.count += 1;
    this.sum += ms;
    let index = 0;
    while (ms > DEFAULT_BUCKETS_MS[index]) index += 1;
    this.counts[index] += 1;
    if (this.sink !== undefined) this.sink(ms);
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
 * time, cache hits, rate-limit denials, stream lag, ...). Constant memory per series. The
 * module exports it through OpenTelemetry (OtelMetricsBridge, attached with `attach()`);
 * `snapshot()` is a copy of every series, for logs, tests and dashboards.
 *
 * @example
 * metrics.increment('lock_contended_total', { kind: 'mutex' });
 * metrics.observe('lock_wait_ms', 12.5);
 * metrics.setGauge('streams_group_lag', 42, { stream: 'orders', group: 'billing' });
 * metrics.snapshot().counters;
 */
export class MetricsRegistry {
  private readonly counters = new Map<string, CounterSnapshot>();
  private readonly gaugeSeries = new Map<string, GaugeSnapshot>();
  private readonly histograms = new Map<string, { name: string; labels: MetricLabels; histogram: Histogram }>();
  private listener: MetricsListener | undefined = undefined;

  increment(name: string, labels: MetricLabels = {}, by = 1): void {
    const id = seriesId(name, labels);
    const counter = this.counters.get(id);
    if (counter) counter.value += by;
    else this.addCounter(id, { name, labels, value: by });
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
    const series = this.counters.get(id) ?? this.addCounter(id, { name, labels, value: 0 });
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
    if (!series) {
      this.histograms.set(id, (series = { name, labels, histogram: new Histogram() }));
      if (this.listener) series.histogram.sink = this.listener.histogram(name, labels);
    }
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
    else {
      const series = { name, labels, value };
      this.gaugeSeries.set(id, series);
      this.listener?.counterOrGauge('gauge', series);
    }
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

  /**
   * Whether an exporter is attached (see attach): a hot path may skip measuring what only an
   * exporter would read (CommandExecutor's round-trip time).
   *
   * @example
   * const started = metrics.exporting ? performance.now() : 0;
   */
  get exporting(): boolean {
    return this.listener !== undefined;
  }

  /**
   * Attaches an exporter: it is told about every series there is, then about each new one as it
   * appears (never per call), and each histogram series forwards its observations to the sink the
   * listener bound for it. Until then, and after the returned function detached it, recording
   * costs nothing more. One listener at a time.
   *
   * @throws InvalidArgumentError naming `listener` when one is attached already
   * @example
   * const detach = metrics.attach(listener);
   * // ... module shutdown:
   * detach();
   */
  attach(listener: MetricsListener): () => void {
    if (this.listener) throw new InvalidArgumentError('listener', 'this MetricsRegistry has an exporter attached already; detach it first');
    this.listener = listener;
    for (const series of this.counters.values()) listener.counterOrGauge('counter', series);
    for (const series of this.gaugeSeries.values()) listener.counterOrGauge('gauge', series);
    for (const { name, labels, histogram } of this.histograms.values()) histogram.sink = listener.histogram(name, labels);
    return () => {
      if (this.listener !== listener) return;
      this.listener = undefined;
      for (const { histogram } of this.histograms.values()) histogram.sink = undefined;
    };
  }

  /** The live counter series (no copies: for an exporter reading values at collection time). */
  liveCounters(): IterableIterator<LiveSeries> {
    return this.counters.values();
  }

  /** The live gauge series (removed ones excluded). */
  liveGauges(): IterableIterator<LiveSeries> {
    return this.gaugeSeries.values();
  }

  private addCounter(id: string, series: CounterSnapshot): CounterSnapshot {
    this.counters.set(id, series);
    this.listener?.counterOrGauge('counter', series);
    return series;
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
