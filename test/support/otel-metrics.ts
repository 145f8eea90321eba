import type { Attributes } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';

/** A reader that exports nothing by itself: the test collects when it wants to look. */
class PullReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/** One data point as a test reads it: a number (counter, gauge) or a histogram's count and sum. */
export interface TestPoint {
  attributes: Attributes;
  value: number | Histogram;
}

/**
 * A real OpenTelemetry SDK MeterProvider with an in-memory reader, to pass as
 * `telemetry.meterProvider` and read what the library exported.
 *
 * @example
 * const otel = new TestMeters();
 * const booted = await bootModule({ telemetry: { meterProvider: otel.provider } });
 * await locks.withLock('k', async () => {});
 * expect(await otel.sum('coordination.lock.acquired', { tenant: 'acme' })).toBe(1);
 */
export class TestMeters {
  readonly reader = new PullReader();
  readonly provider = new MeterProvider({ readers: [this.reader] });

  /** Every metric the provider holds now, by name. */
  async collect(): Promise<Map<string, MetricData>> {
    const { resourceMetrics, errors } = await this.reader.collect();
    if (errors.length > 0) throw new AggregateError(errors, 'metric collection failed');
    const metrics = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) metrics.set(metric.descriptor.name, metric);
    return metrics;
  }

  /** The data points of metric `name` (empty when it has none). */
  async points(name: string): Promise<TestPoint[]> {
    const metric = (await this.collect()).get(name);
    return (metric?.dataPoints ?? []).map((p) => ({ attributes: p.attributes, value: p.value as number | Histogram }));
  }

  /** Sum of the numeric points of `name` whose attributes include `attributes` (a histogram's count). */
  async sum(name: string, attributes: Attributes = {}): Promise<number> {
    return (await this.points(name))
      .filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))
      .reduce((total, p) => total + (typeof p.value === 'number' ? p.value : p.value.count), 0);
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}
