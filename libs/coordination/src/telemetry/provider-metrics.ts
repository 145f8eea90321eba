import { Logger } from '@nestjs/common';
import { createNoopMeter, type Attributes, type BatchObservableResult, type Histogram, type Meter, type MeterProvider, type Observable } from '@opentelemetry/api';
import { DEFAULT_BUCKETS_MS } from '../metrics/metrics-registry.js';
import { INSTRUMENTATION_SCOPE } from './instrumentation-scope.js';
import { catalogEntry, deriveMetricName, type GaugeAggregation, type MetricDefinition, type MetricKind } from './metric-catalog.js';
import { AttributeValueBudget } from './tenant-attributes.js';

/** One exported counter or gauge series: its instrument and attributes, computed once. */
export interface ObservableBinding {
  readonly kind: 'counter' | 'gauge';
  readonly instrument: Observable;
  readonly attributes: Attributes;
  /**
   * Instrument name and attributes: series of one registry with one key (tenants or values folded
   * together) add up; those of several registries combine by `aggregation`.
   */
  readonly key: string;
  /** How the series of several registries with one key combine: always `sum` for counters. */
  readonly aggregation: GaugeAggregation;
}

/** What one module instance contributes at collection time (see OtelMetricsBridge). */
export interface ObservableSource {
  /** Calls `add` with every counter and gauge series of the module and its current value. */
  collect(add: (binding: ObservableBinding, value: number) => void): void;
}

interface Point {
  kind: 'counter' | 'gauge';
  instrument: Observable;
  attributes: Attributes;
  value: number;
  aggregation: GaugeAggregation;
}

const BUCKET_BOUNDARIES = DEFAULT_BUCKETS_MS.filter((le) => Number.isFinite(le));
const byProvider = new WeakMap<MeterProvider, ProviderMetrics>();

/**
 * The library's instruments on one MeterProvider, shared by every module instance that exports
 * to it (tests boot many modules; an application may import the module twice).
 *
 * OpenTelemetry keeps one series per instrument and attribute set, and an observable counter
 * is cumulative: two callbacks reporting the same series would overwrite each other and read as
 * resets. So there is one batch callback per provider, which sums the counter series of every
 * attached module and combines their gauges by the catalogue's aggregation (`max` for states and
 * fleet-wide levels every module reads from Redis, `sum` for levels of each process); within one
 * module, series folded into one attribute set (`_other`, `tenantAttribute: 'none'`) add up.
 * A module that stops leaves its final counter values here (`retired`), so that the sums stay
 * monotonic while the others go on and a final collection still counts them.
 *
 * The SDK's cumulative readers keep exporting every series ever reported, at its last value, so
 * a gauge series that went away (removed from its registry, or its module stopped) is reported
 * as 0 from then on rather than left at a stale level. The callback stays registered while
 * retired counters or such gauges exist, i.e. once anything was reported. Histograms are
 * synchronous instruments: the modules' observations add up in the SDK.
 *
 * @example
 * const shared = ProviderMetrics.of(provider);
 * shared?.attach(source);
 * shared?.detach(source, finalCounterValues);
 */
export class ProviderMetrics {
  /** Tenants given their own attribute value so far (tenantAttribute 'all'). */
  readonly tenantsSeen = new Set<string>();
  /** Values given to the other attributes so far, per metric (see MAX_ATTRIBUTE_VALUES). */
  readonly attributeValues = new AttributeValueBudget();
  private readonly logger = new Logger('Coordination:Telemetry');
  private readonly histograms = new Map<string, Histogram>();
  private readonly observables = new Map<string, Observable>();
  private observableList: Observable[] = [];
  private readonly sources = new Set<ObservableSource>();
  private readonly retired = new Map<string, Point>();
  /** The zero point of every gauge series reported so far: reported for those no module reports any more. */
  private readonly gauges = new Map<string, Point>();
  private registered = false;
  private readonly callback = (result: BatchObservableResult): void => this.observe(result);

  private constructor(private readonly meter: Meter) {}

  /**
   * The shared instruments of `provider`; undefined for the API's no-op provider (no SDK
   * registered), so that nothing is attached and recording costs nothing more.
   */
  static of(provider: MeterProvider): ProviderMetrics | undefined {
    let shared = byProvider.get(provider);
    if (shared) return shared;
    const meter = provider.getMeter(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
    if (meter === createNoopMeter()) return undefined;
    byProvider.set(provider, (shared = new ProviderMetrics(meter)));
    return shared;
  }

  /** The observable instrument of a registry counter or gauge, created on first use. */
  observable(kind: 'counter' | 'gauge', registryName: string): Observable {
    const id = `${kind}:${registryName}`;
    let instrument = this.observables.get(id);
    if (instrument) return instrument;
    const m = this.definition(kind, registryName);
    const options = { unit: m.unit, description: m.description };
    instrument = kind === 'counter' ? this.meter.createObservableCounter(m.name, options) : this.meter.createObservableGauge(m.name, options);
    this.observables.set(id, instrument);
    if (this.registered) this.meter.removeBatchObservableCallback(this.callback, this.observableList);
    this.observableList = [...this.observables.values()];
    if (this.registered) this.meter.addBatchObservableCallback(this.callback, this.observableList);
    return instrument;
  }

  /** How the gauge series of several modules combine (`sum` for counters and gauges missing from the catalogue). */
  aggregation(kind: 'counter' | 'gauge', registryName: string): GaugeAggregation {
    return kind === 'gauge' ? (catalogEntry(registryName, kind)?.aggregation ?? 'sum') : 'sum';
  }

  /** The histogram instrument of a registry histogram, created on first use. */
  histogram(registryName: string): Histogram {
    let instrument = this.histograms.get(registryName);
    if (instrument) return instrument;
    const m = this.definition('histogram', registryName);
    instrument = this.meter.createHistogram(m.name, { unit: m.unit, description: m.description, advice: { explicitBucketBoundaries: BUCKET_BOUNDARIES } });
    this.histograms.set(registryName, instrument);
    return instrument;
  }

  attach(source: ObservableSource): void {
    this.sources.add(source);
    if (!this.registered) {
      this.meter.addBatchObservableCallback(this.callback, this.observableList);
      this.registered = true;
    }
  }

  /**
   * `counters`: the final values of the source's counter series, kept in the sums. The callback
   * is removed with the last source only if nothing was ever reported (see the class comment).
   */
  detach(source: ObservableSource, counters: Iterable<[ObservableBinding, number]>): void {
    if (!this.sources.delete(source)) return;
    for (const [binding, value] of counters) add(this.retired, binding, value);
    if (this.sources.size === 0 && this.registered && this.retired.size === 0 && this.gauges.size === 0) {
      this.meter.removeBatchObservableCallback(this.callback, this.observableList);
      this.registered = false;
    }
  }

  private observe(result: BatchObservableResult): void {
    const points = new Map<string, Point>();
    for (const [key, p] of this.retired) points.set(key, { ...p });
    for (const source of this.sources) {
      // One module's series with one key add up (folded tenants or values); modules then combine.
      const own = new Map<string, Point>();
      source.collect((binding, value) => add(own, binding, value));
      for (const [key, p] of own) combine(points, key, p);
    }
    for (const [key, p] of points) if (p.kind === 'gauge' && !this.gauges.has(key)) this.gauges.set(key, { ...p, value: 0 });
    for (const [key, zero] of this.gauges) if (!points.has(key)) points.set(key, zero);
    for (const p of points.values()) result.observe(p.instrument, p.value, p.attributes);
  }

  private definition(kind: MetricKind, registryName: string): MetricDefinition {
    const entry = catalogEntry(registryName, kind);
    if (entry) return entry;
    const name = deriveMetricName(registryName, kind);
    const unit = kind === 'histogram' && registryName.endsWith('_ms') ? 'ms' : '1';
    this.logger.warn(
      `Metric "${registryName}" (${kind}) is not in the metric catalogue: exported as "${name}" with unit "${unit}" and no description. ` +
      'Add it to METRIC_CATALOG in telemetry/metric-catalog.ts.',
    );
    return { registryName, name, kind, unit, description: `${registryName} (not in the metric catalogue)`, attributes: [] };
  }
}

function add(points: Map<string, Point>, binding: ObservableBinding, value: number): void {
  const point = points.get(binding.key);
  if (point) point.value += value;
  else points.set(binding.key, { kind: binding.kind, instrument: binding.instrument, attributes: binding.attributes, value, aggregation: binding.aggregation });
}

function combine(points: Map<string, Point>, key: string, p: Point): void {
  const point = points.get(key);
  if (!point) points.set(key, p);
  else point.value = p.aggregation === 'max' ? Math.max(point.value, p.value) : point.value + p.value;
}
