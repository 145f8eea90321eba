import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { CoordinationHealthIndicator, SkipRateLimit, TenantOptional } from '@nest-coordination/core';
import { Public } from '../auth/public.decorator.js';

/**
 * `GET /health`: 200 while the coordination layer is up or degraded, 503 when it is down.
 * Load balancers call it with no user, no company and no quota, so it opts out of all three.
 * Anyone may call it, so it reports the status only: the full details name Redis' address,
 * its error text and memory figures (pass `details: 'full'` on an operators-only route).
 */
@Public()
@TenantOptional()
@SkipRateLimit()
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthCheckService, private readonly coordination: CoordinationHealthIndicator) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.coordination.isHealthy('coordination', { details: 'status' })]);
  }
}
