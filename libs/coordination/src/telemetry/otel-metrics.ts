import { metrics } from '@opentelemetry/api';
import type { HistogramSink, LiveSeries, MetricLabels, MetricsListener, MetricsRegistry } from '../metrics/metrics-registry.js';
import type { ResolvedTelemetryOptions } from '../options/resolve-options.js';
import { catalogEntry } from './metric-catalog.js';
import { ProviderMetrics, type ObservableBinding, type ObservableSource } from './provider-metrics.js';
import { OTHER_TENANT, TenantAttributePolicy } from './tenant-attributes.js';

/** A binding whose tenant became `_other` without a slot: bound again once more tenants hold slots. */
interface Rebindable extends ObservableBinding {
  readonly slotsTakenAt: number;
}

/**
 * Exports one module's MetricsRegistry through `@opentelemetry/api` instruments on
 * `telemetry.meterProvider` (else the global provider, as registered when the module starts),
 * meter `@nest-coordination/core` at the library's version, under the names of METRIC_CATALOG:
 * - counters and gauges become ObservableCounters and ObservableGauges, read from the registry by
 *   one batch callback at collection time: recording them costs what it did before;
 * - histograms become OTel Histograms (buckets DEFAULT_BUCKETS_MS), fed each observation by a
 *   sink the registry binds once per series, attributes included.
 * Attributes are the registry labels, the tenant under `telemetry.tenantAttribute` and the others
 * capped at MAX_ATTRIBUTE_VALUES values per metric, computed once per series. With the API's no-op
 * provider (no SDK) nothing is attached at all. Modules on one provider share its instruments:
 * counters add up, gauges combine by their catalogue aggregation, and a gauge series that went
 * away reads 0 (see ProviderMetrics).
 *
 * @example
 * const bridge = new OtelMetricsBridge(options.telemetry, registry);
 * bridge.start(); // module init
 * bridge.stop();  // shutdown: nothing more is reported for this module
 */
export class OtelMetricsBridge implements ObservableSource {
  private shared: ProviderMetrics | undefined;
  private policy: TenantAttributePolicy | undefined;
  private detach: (() => void) | undefined;
  private stopped = false;
  /** The binding of each counter and gauge series, set when the series appears. */
  private readonly bindings = new WeakMap<LiveSeries, ObservableBinding>();
  private readonly listener: MetricsListener = {
    counterOrGauge: (kind, series) => void this.bindings.set(series, this.bind(kind, series)),
    histogram: (name, labels) => this.sink(name, labels),
  };

  constructor(private readonly options: ResolvedTelemetryOptions, private readonly registry: MetricsRegistry) {}

  /** Creates the instruments on the meter provider and attaches to the registry (at module init). */
  start(): void {
    if (this.detach || this.stopped) return;
    const shared = ProviderMetrics.of(this.options.meterProvider ?? metrics.getMeterProvider());
    if (!shared) return;
    this.shared = shared;
    this.policy = new TenantAttributePolicy(this.options, shared.tenantsSeen, shared.attributeValues);
    this.detach = this.registry.attach(this.listener);
    shared.attach(this);
  }

  /**
   * Detaches from the provider's callback and the histogram sinks (at shutdown): a closed module
   * reports nothing more; its counters stay in the totals at their final values and its gauge
   * series read 0 (see ProviderMetrics).
   */
  stop(): void {
    this.stopped = true;
    if (!this.detach || !this.shared) return;
    this.detach();
    this.detach = undefined;
    const finalCounts: Array<[ObservableBinding, number]> = [];
    for (const series of this.registry.liveCounters()) finalCounts.push([this.binding('counter', series), series.value]);
    this.shared.detach(this, finalCounts);
  }

  /** @internal Called by the provider's batch callback at collection time. */
  collect(add: (binding: ObservableBinding, value: number) => void): void {
    for (const series of this.registry.liveCounters()) add(this.binding('counter', series), series.value);
    for (const series of this.registry.liveGauges()) add(this.binding('gauge', series), series.value);
  }

  private binding(kind: 'counter' | 'gauge', series: LiveSeries): ObservableBinding {
    let binding = this.bindings.get(series);
    if (!binding || ('slotsTakenAt' in binding && (binding as Rebindable).slotsTakenAt !== this.policy!.tenantSlotsTaken)) {
      this.bindings.set(series, (binding = this.bind(kind, series)));
    }
    return binding;
  }

  private bind(kind: 'counter' | 'gauge', series: LiveSeries): ObservableBinding {
    const shared = this.shared!;
    const instrument = shared.observable(kind, series.name);
    // A metric whose tenants come from a scan of the keyspace (`tenants: 'scanned'`) claims no tenant slot.
    const claim = catalogEntry(series.name, kind)?.tenants !== 'scanned';
    const attributes = this.policy!.attributes(series.name, series.labels, claim);
    const binding = { kind, instrument, attributes, key: seriesKey(`${kind}:${series.name}`, attributes), aggregation: shared.aggregation(kind, series.name) };
    if (claim || attributes.tenant !== OTHER_TENANT) return binding;
    const rebindable: Rebindable = { ...binding, slotsTakenAt: this.policy!.tenantSlotsTaken };
    return rebindable;
  }

  private sink(name: string, labels: MetricLabels): HistogramSink {
    const histogram = this.shared!.histogram(name);
    const attributes = this.policy!.attributes(name, labels);
    return (ms) => histogram.record(ms, attributes);
  }
}

function seriesKey(instrument: string, attributes: object): string {
  return instrument + JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
