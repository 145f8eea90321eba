import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { SkipRateLimit, TenantOptional } from '@nest-coordination/core';
import { Public } from '../auth/public.decorator.js';
import { DemoMetrics, PROMETHEUS_CONTENT_TYPE } from './demo-metrics.js';
import { MetricsAccessGuard } from './metrics-access.guard.js';

/**
 * `GET /metrics`: the Prometheus text exposition of the coordination library's metrics (locks,
 * rate limits, cache, sessions, streams, tasks, Redis connection) for this instance. A scraper
 * sends no login, no company and must never be rate limited, so it opts out of all three, as
 * `/health` does. What it shows is operational data of every company (tenant ids as labels, see
 * the library's `telemetry.tenantAttribute`), so unlike `/health` it is not for anyone: with
 * `METRICS_TOKEN` set a scrape must send it as a bearer token (MetricsAccessGuard); without it,
 * it is open in development and not served in production (DemoTelemetryModule).
 *
 * @example
 * curl -s -H "Authorization: Bearer $METRICS_TOKEN" localhost:3000/metrics | grep coordination_lock_acquire_duration_count
 */
@Public()
@TenantOptional()
@SkipRateLimit()
@UseGuards(MetricsAccessGuard)
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: DemoMetrics) {}

  @Get()
  @Header('Content-Type', PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  scrape(): Promise<string> {
    return this.metrics.scrape();
  }
}
