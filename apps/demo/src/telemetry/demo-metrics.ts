import { Logger } from '@nestjs/common';
import { PrometheusExporter, PrometheusSerializer, type ExporterConfig } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/** `service.name` of the demo's metrics (`target_info{service_name=...}` in the exposition). */
export const DEMO_SERVICE_NAME = 'nest-coordination-demo';

/** Content type of the Prometheus text exposition format that `GET /metrics` answers in. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * How the exposition is written: the `PrometheusExporter`'s settings that shape the text (a
 * prefix for every metric name, sample timestamps, resource attributes as labels, no
 * `target_info`, no scope labels). Unset: the exporter's defaults.
 *
 * @example
 * new DemoMetrics({ withoutScopeInfo: true }); // no otel_scope_* labels on the samples
 */
export type DemoMetricsOptions = Pick<ExporterConfig, 'prefix' | 'appendTimestamp' | 'withResourceConstantLabels' | 'withoutTargetInfo' | 'withoutScopeInfo'>;

/**
 * The demo's OpenTelemetry metrics: an SDK `MeterProvider` of its own (never the global one, so
 * that two demo apps in one process, as in the tests, each report only their own traffic) read by
 * a `PrometheusExporter` that serves no port of its own: `GET /metrics` (MetricsController) asks
 * it for the exposition on the demo's HTTP server. One per application, created and shut down by
 * DemoTelemetryModule; its provider goes to `CoordinationModule` as `telemetry.meterProvider`
 * (AppModule).
 *
 * @example
 * const metrics = new DemoMetrics();
 * CoordinationModule.forRoot({ ...options, telemetry: { meterProvider: metrics.meterProvider } });
 * const text = await metrics.scrape(); // '# HELP coordination_cache_hits_total ...'
 */
export class DemoMetrics {
  /** Pull only (`preventServerStart`): collected when Prometheus scrapes `GET /metrics`. */
  readonly exporter: PrometheusExporter;
  readonly meterProvider: MeterProvider;
  private readonly serializer: PrometheusSerializer;
  private readonly logger = new Logger('DemoMetrics');

  constructor(options: DemoMetricsOptions = {}) {
    this.exporter = new PrometheusExporter({ ...options, preventServerStart: true });
    // The exporter's own serializer is private and its request handler answers a failed collection
    // with 200 and a comment, so `scrape()` serializes itself, from the exporter's very settings.
    this.serializer = new PrometheusSerializer(
      options.prefix, options.appendTimestamp, options.withResourceConstantLabels, options.withoutTargetInfo, options.withoutScopeInfo,
    );
    this.meterProvider = new MeterProvider({ readers: [this.exporter], resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: DEMO_SERVICE_NAME }) });
  }

  /**
   * Collects every instrument of the provider now and serializes it in the Prometheus text
   * format (version 0.0.4). Rejects once the provider was shut down. Errors of single
   * instruments' callbacks are logged; the metrics that could be read are still answered.
   */
  async scrape(): Promise<string> {
    const { resourceMetrics, errors } = await this.exporter.collect();
    for (const error of errors) this.logger.warn(`A metric could not be collected: ${String(error)}`);
    return this.serializer.serialize(resourceMetrics);
  }

  /** Stops the provider and its reader; a scrape after it rejects. */
  shutdown(): Promise<void> {
    return this.meterProvider.shutdown();
  }
}
