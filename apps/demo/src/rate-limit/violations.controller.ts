import { Controller, Get, Query } from '@nestjs/common';
import { RateLimitService, type RateLimitViolation } from '@nest-coordination/core';
import { ViolationsQuery } from './violations.query.js';

/**
 * `GET /limits/violations?scope=&key=&sinceMs=&limit=`: recent rate-limit denials of the caller's
 * company (the tenant context), newest first. `sinceMs` is a timestamp (ms since the epoch).
 */
@Controller('limits')
export class ViolationsController {
  constructor(private readonly rateLimits: RateLimitService) {}

  @Get('violations')
  list(@Query() query: ViolationsQuery): Promise<RateLimitViolation[]> {
    return this.rateLimits.getViolations({ key: query.key, scope: query.scope, since: query.sinceMs, limit: query.limit ?? 50 });
  }
}
