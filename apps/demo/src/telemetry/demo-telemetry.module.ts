import { Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { CoordinationModule } from '@nest-coordination/core';
import type { DemoConfig, MetricsConfig } from '../demo.config.js';
import { DemoMetrics } from './demo-metrics.js';
import { METRICS_CONFIG, MetricsAccessGuard } from './metrics-access.guard.js';
import { MetricsController } from './metrics.controller.js';

/** Shuts the demo's meter provider down with the application. */
@Injectable()
class MetricsShutdown implements OnApplicationShutdown {
  constructor(private readonly metrics: DemoMetrics) {}

  async onApplicationShutdown(): Promise<void> {
    await this.metrics.shutdown();
  }
}

/**
 * The demo's telemetry: `GET /metrics` for Prometheus (behind MetricsAccessGuard) from a
 * `DemoMetrics` of its own, created when the application is (one per app, also when two apps are
 * booted from one configuration) and shut down with it. When `/metrics` is off (production
 * without `METRICS_TOKEN`) there is neither the route nor a meter provider: nothing would read it.
 *
 * @example
 * const telemetry = DemoTelemetryModule.register(config.metrics);
 * imports: [DemoTelemetryModule.coordination(config, telemetry), telemetry]
 */
@Module({})
export class DemoTelemetryModule {
  static register(metrics: MetricsConfig): DynamicModule {
    if (metrics.access === 'off') return { module: DemoTelemetryModule };
    return {
      module: DemoTelemetryModule,
      controllers: [MetricsController],
      providers: [
        { provide: DemoMetrics, useFactory: () => new DemoMetrics() },
        { provide: METRICS_CONFIG, useValue: metrics },
        MetricsAccessGuard,
        MetricsShutdown,
      ],
      exports: [DemoMetrics],
    };
  }

  /**
   * `CoordinationModule` with `config.coordination`, recording its metrics into the meter provider
   * of the app's `DemoMetrics` (from `telemetry`, the module `register` built) as
   * `telemetry.meterProvider`; as it is when `/metrics` is off.
   */
  static coordination(config: Pick<DemoConfig, 'coordination' | 'metrics'>, telemetry: DynamicModule): DynamicModule {
    if (config.metrics.access === 'off') return CoordinationModule.forRoot(config.coordination);
    return CoordinationModule.forRootAsync({
      isGlobal: config.coordination.isGlobal,
      imports: [telemetry],
      inject: [DemoMetrics],
      useFactory: (metrics: DemoMetrics) => ({
        ...config.coordination,
        telemetry: { ...config.coordination.telemetry, meterProvider: metrics.meterProvider },
      }),
    });
  }
}
