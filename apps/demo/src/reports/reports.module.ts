import { Module, type DynamicModule } from '@nestjs/common';
import { CompaniesModule } from '../companies/companies.module.js';
import type { DemoConfig } from '../demo.config.js';
import { nightlyReportJob } from './nightly-report.job.js';
import { ReportsController } from './reports.controller.js';
import { Reports } from './reports.service.js';

/**
 * The nightly report of every company (`@Cron` + `@SingletonJob`: once per tick across the fleet),
 * published as `report.generated`, and `GET /reports/latest`. Needs `ScheduleModule.forRoot()`
 * in the application (AppModule imports it). `crews` is the application's CrewsModule
 * registration, the very object it imports (its CrewsService reads the run histories): registering
 * CrewsModule again would make a second one, with its controllers and consumers.
 *
 * @example
 * const crews = CrewsModule.register(config);
 * imports: [ScheduleModule.forRoot(), crews, ReportsModule.register(config, crews)]
 */
@Module({})
export class ReportsModule {
  static register({ reports }: Pick<DemoConfig, 'reports'>, crews: DynamicModule): DynamicModule {
    return {
      module: ReportsModule,
      imports: [CompaniesModule, crews],
      controllers: [ReportsController],
      providers: [Reports, nightlyReportJob(reports)],
    };
  }
}
