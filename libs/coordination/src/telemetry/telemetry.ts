import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import type { ResolvedTelemetryOptions } from '../options/resolve-options.js';
import { OtelMetricsBridge } from './otel-metrics.js';
import { CoordinationTracer } from './tracing.js';

/**
 * The OpenTelemetry side of one module instance: its metrics exported through the meter
 * provider (`telemetry.meterProvider`, else the global one) and spans of its operations
 * (`telemetry.tracerProvider`, else the global one). Both are no-ops until the application
 * registers an OpenTelemetry SDK.
 *
 * @example
 * const lock = await core.telemetry.tracer.trace(LOCK_ACQUIRE, tenant, key, () => acquire(), 'mutex');
 */
export class Telemetry {
  readonly tracer: CoordinationTracer;
  private readonly bridge: OtelMetricsBridge;

  /** `driver` is what spans carry as `coordination.driver`. */
  constructor(readonly options: ResolvedTelemetryOptions, metrics: MetricsRegistry, driver: 'redis' | 'memory') {
    this.tracer = new CoordinationTracer(options, driver);
    this.bridge = new OtelMetricsBridge(options, metrics);
  }

  start(): void {
    if (this.options.metrics) this.bridge.start();
  }

  stop(): void {
    this.bridge.stop();
  }
}
