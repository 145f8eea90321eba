import { Injectable, type Type } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { SingletonJob, type JobTick } from '@nest-coordination/core';
import { NIGHTLY_REPORT_CRON, type ReportsConfig } from '../demo.config.js';
import { Reports } from './reports.service.js';

/** Name of the nightly report job: its `@SingletonJob` (one run per tick across the fleet) and its cron job in the SchedulerRegistry. */
export const NIGHTLY_REPORT_JOB = 'nightly-report';

/**
 * The nightly report: every instance's scheduler ticks, one instance per tick runs it (the
 * others skip that tick), with the tick's `scheduledAt` and fencing token (`JobTick`). Its
 * schedule is configuration (`reports.cron`, `DEMO_REPORT_CRON`), so it is not written on this
 * class: `ReportsModule.register` provides `nightlyReportJob(config)`, a subclass carrying the
 * `@Cron` + `@SingletonJob` of its application.
 *
 * @example
 * await app.get(NightlyReportJob).generate(tick); // what the scheduler calls, once per tick across the fleet
 */
@Injectable()
export class NightlyReportJob {
  constructor(private readonly reports: Reports) {}

  async generate(tick: JobTick): Promise<void> {
    await this.reports.generate(tick);
  }
}

/**
 * NightlyReportJob scheduled by `config.cron` (default `NIGHTLY_REPORT_CRON`, 02:00), in UTC so
 * every instance names the same ticks. A class of its own per registration, since the `@Cron`
 * metadata belongs to the method of a class: two applications of one process (tests) each get
 * their own schedule.
 *
 * @example
 * providers: [nightlyReportJob({ cron: '* * * * * *' })] // every second
 */
export function nightlyReportJob(config: ReportsConfig): Type<NightlyReportJob> {
  @Injectable()
  class ScheduledNightlyReportJob extends NightlyReportJob {
    // @SingletonJob claims the tick; the cron arguments are replaced by the JobTick.
    @Cron(config.cron ?? NIGHTLY_REPORT_CRON, { name: NIGHTLY_REPORT_JOB, timeZone: 'UTC' })
    @SingletonJob(NIGHTLY_REPORT_JOB)
    override generate(tick: JobTick): Promise<void> {
      return super.generate(tick);
    }
  }
  return ScheduledNightlyReportJob;
}
