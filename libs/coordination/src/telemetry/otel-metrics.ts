import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import type { ResolvedTelemetryOptions } from '../options/resolve-options.js';

/**
 * Exports a MetricsRegistry through `@opentelemetry/api` instruments (STUB: exports nothing yet).
 *
 * @example
 * const bridge = new OtelMetricsBridge(options.telemetry, registry);
 * bridge.start();
 * bridge.stop();
 */
export class OtelMetricsBridge {
  constructor(private readonly options: ResolvedTelemetryOptions, private readonly registry: MetricsRegistry) {}

  /** Creates the instruments on the meter provider (at module init). */
  start(): void {
    void this.options;
    void this.registry;
  }

  /** Detaches the instruments' callbacks (at shutdown): a closed module reports nothing. */
  stop(): void {}
}
