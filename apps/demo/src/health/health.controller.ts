import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { CoordinationHealthIndicator, TenantOptional } from '@nest-coordination/core';

/**
 * `GET /health`: 200 while the coordination layer is up or degraded, 503 when it is down.
 * Needs no company header, although the demo requires one everywhere else.
 */
@TenantOptional()
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthCheckService, private readonly coordination: CoordinationHealthIndicator) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.coordination.isHealthy('coordination')]);
  }
}
