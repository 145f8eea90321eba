import { Injectable, Logger } from '@nestjs/common';
import { CacheService, CoordinationCore, EventBus, type JobTick } from '@nest-coordination/core';
import { CompaniesService } from '../companies/companies.service.js';
import { CrewsService } from '../crews/crews.service.js';
import type { CrewRun } from '../crews/crew.model.js';
import { REPORT_GENERATED, type CompanyReport, type RunCounts } from './company-report.model.js';

/** The day a report covers, ending at its tick. */
export const REPORT_PERIOD_MS = 86_400_000;

/** Cache key of a company's latest report, in the company's tenant. */
export const LATEST_REPORT_KEY = 'report:latest';

/** How long the latest report stays in the cache: two nights, so a night the job could not run leaves the one before. */
export const LATEST_REPORT_TTL_MS = 2 * REPORT_PERIOD_MS;

/**
 * Builds, publishes and keeps the companies' reports. `generate(tick)` is what the nightly job
 * runs, on one instance of the fleet per tick: per company, the crew runs of the day before the
 * tick, kept as the company's latest in the cache (`CacheService`, key `report:latest` in the
 * company's tenant: in Redis, so every instance answers `GET /reports/latest` alike; in the
 * process's memory on the memory driver), then published as `report.generated` on the EventBus
 * under the company's tenant (every instance's subscribers of the company receive it).
 *
 * The tick's fencing token guards the write: a report replaces the stored one only when its token
 * is at least as high, so a run that stalled (its lease lost, a later tick run elsewhere
 * meanwhile) does not put an older report back. Read and write are two calls, not one: the check
 * narrows the window, as a database's `WHERE fencing_token <= $token` would close it.
 *
 * @example
 * const reports = await app.get(Reports).generate({ job: 'nightly-report', scheduledAt: new Date(), fencingToken: 1, signal: new AbortController().signal });
 */
@Injectable()
export class Reports {
  private readonly logger = new Logger('Reports');

  constructor(
    private readonly companies: CompaniesService,
    private readonly crews: CrewsService,
    private readonly bus: EventBus,
    private readonly cache: CacheService,
    private readonly core: CoordinationCore,
  ) {}

  /**
   * Every company's report of the tick, each published and kept; stops between companies once
   * the tick's signal aborts (lease lost, shutdown). A company that fails does not stop the
   * others: the failures are thrown together at the end (the job counts the run as failed).
   */
  async generate(tick: JobTick): Promise<CompanyReport[]> {
    const reports: CompanyReport[] = [];
    const failures: unknown[] = [];
    for (const company of this.companies.list()) {
      tick.signal.throwIfAborted();
      try {
        reports.push(await this.generateFor(company.id, tick));
      } catch (error) {
        this.logger.warn(`Report of company ${company.id} for ${tick.scheduledAt.toISOString()} failed: ${error instanceof Error ? error.message : String(error)}`);
        failures.push(error);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} of the reports for ${tick.scheduledAt.toISOString()} failed`);
    return reports;
  }

  /** The company's latest report, from any instance; undefined before the first. */
  latest(companyId: string): Promise<CompanyReport | undefined> {
    return this.cache.get<CompanyReport>(LATEST_REPORT_KEY, { tenant: companyId });
  }

  private async generateFor(companyId: string, tick: JobTick): Promise<CompanyReport> {
    const to = tick.scheduledAt;
    const from = new Date(to.getTime() - REPORT_PERIOD_MS);
    const perCrew = await this.crews.runsBetween(companyId, from, to);
    const crews = perCrew.map(({ crewId, runs }) => ({ crewId, ...count(runs) }));
    const report: CompanyReport = {
      companyId,
      ...count(perCrew.flatMap(({ runs }) => runs)),
      crews,
      from: from.toISOString(),
      scheduledAt: to.toISOString(),
      generatedAt: new Date().toISOString(),
      fencingToken: tick.fencingToken,
      instanceId: this.core.instanceId,
    };
    // Kept before it is announced: a subscriber that asks for the latest report on the event gets this one.
    const stored = await this.latest(companyId);
    if (stored === undefined || stored.fencingToken <= report.fencingToken) {
      await this.cache.set(LATEST_REPORT_KEY, report, { tenant: companyId, ttlMs: LATEST_REPORT_TTL_MS });
    }
    await this.bus.publish(REPORT_GENERATED, report, { tenant: companyId });
    return report;
  }
}

function count(runs: readonly CrewRun[]): RunCounts {
  return {
    runs: runs.length,
    succeeded: runs.filter((run) => run.status === 'succeeded').length,
    failed: runs.filter((run) => run.status === 'failed').length,
    aborted: runs.filter((run) => run.status === 'aborted').length,
  };
}
