import { Controller, Get, NotFoundException } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import type { CompanyReport } from './company-report.model.js';
import { Reports } from './reports.service.js';

/** `GET /reports/latest`: the caller's company's latest nightly report. */
@Controller('reports')
export class ReportsController {
  constructor(private readonly reports: Reports) {}

  /** The latest report of the caller's company, whichever instance ran it; 404 before the first. */
  @Get('latest')
  async latest(@CurrentUser() user: AuthUser): Promise<CompanyReport> {
    const report = await this.reports.latest(user.companyId);
    if (report === undefined) throw new NotFoundException(`No report yet for company "${user.companyId}": the nightly report has not run since the last two nights`);
    return report;
  }
}
