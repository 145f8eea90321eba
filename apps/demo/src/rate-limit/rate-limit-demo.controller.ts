import { Controller, Get, Param, Post, Query, UseGuards } from '@nestjs/common';
import { RateLimit, RateLimitGuard, RateLimitService, type RateLimitViolation } from '@nest-coordination/core';

/**
 * Rate-limited AI work: a crew run is limited per user, per company (the tenant) and for the
 * endpoint as a whole; an agent call per user and per company with a token bucket that
 * allows short bursts. All policies of a request are checked in one atomic Redis call, and a
 * request denied by one consumes from none.
 */
@Controller('limits')
@UseGuards(RateLimitGuard)
export class RateLimitDemoController {
  constructor(private readonly rateLimits: RateLimitService) {}

  @RateLimit([
    { scope: 'user', name: 'crew-run-user', limit: 5, windowMs: 60_000 },
    { scope: 'tenant', name: 'crew-run-company', limit: 50, windowMs: 60_000, algorithm: 'sliding-window-approx' },
    { scope: 'endpoint', name: 'crew-run-all', limit: 500, windowMs: 60_000, algorithm: 'fixed-window' },
  ])
  @Post('crews/:crewId/run')
  runCrew(@Param('crewId') crewId: string) {
    return { crewId, status: 'queued' };
  }

  @RateLimit([
    { scope: 'user', name: 'agent-call-user', limit: 10, windowMs: 1_000, algorithm: 'token-bucket', burst: 20 },
    { scope: 'tenant', name: 'agent-call-company', limit: 1_000, windowMs: 60_000, algorithm: 'gcra' },
  ])
  @Post('agents/:agentId/call')
  callAgent(@Param('agentId') agentId: string) {
    return { agentId, status: 'answered' };
  }

  /** Recent denials of the caller's company, newest first (`?key=`, `?scope=`, `?sinceMs=`). */
  @Get('violations')
  violations(@Query('key') key?: string, @Query('scope') scope?: string, @Query('sinceMs') sinceMs?: string): Promise<RateLimitViolation[]> {
    return this.rateLimits.getViolations({ key, scope, since: sinceMs === undefined ? undefined : Number(sinceMs), limit: 50 });
  }
}
