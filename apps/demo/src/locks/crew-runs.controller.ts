import { Controller, Get, Param, Post, Query, UseGuards } from '@nestjs/common';
import { LockService, WithLock, type HeldLockInfo } from '@nest-coordination/core';
import { CompanyGuard } from '../companies/company.guard.js';
import type { Company } from '../companies/company.model.js';
import { CurrentCompany } from '../companies/current-company.decorator.js';
import { CrewsService } from '../crews/crews.service.js';

const MAX_RUN_MS = 30_000;

/**
 * Crew runs, one at a time per crew across every instance: `@WithLock` takes the lock
 * `crew-run:<crewId>` of the caller's company (the tenant context) for the run, and a second
 * run of the same crew meanwhile gets 409 (LockTimeoutError through CoordinationExceptionFilter).
 */
@Controller('crew-runs')
@UseGuards(CompanyGuard)
export class CrewRunsController {
  constructor(private readonly crews: CrewsService, private readonly locks: LockService) {}

  /** Runs the crew for `durationMs` (default 2 s, at most 30 s) of simulated agent work. */
  @Post(':crewId')
  @WithLock('crew-run:{1}', { waitMs: 0, ttlMs: 10_000 })
  async run(@CurrentCompany() company: Company, @Param('crewId') crewId: string, @Query('durationMs') durationMs?: string) {
    const crew = this.crews.get(company.id, crewId);
    const startedAt = new Date();
    const ms = Math.min(Math.max(Number(durationMs ?? 2_000) || 0, 0), MAX_RUN_MS);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { crewId: crew.id, status: 'completed', startedAt, finishedAt: new Date() };
  }

  /** The locks this instance holds for the caller's company: owner, acquired/expiry times, renewals. */
  @Get('locks')
  held(@CurrentCompany() company: Company): HeldLockInfo[] {
    return this.locks.held().filter((lock) => lock.tenant === company.id);
  }
}
