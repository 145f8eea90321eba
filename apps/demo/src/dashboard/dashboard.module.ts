import { Module, type DynamicModule } from '@nestjs/common';
import { DashboardAssets } from './dashboard-assets.js';
import type { DemoConfig } from '../demo.config.js';
import { DashboardFeed } from './dashboard-feed.service.js';
import { DASHBOARD_CONFIG, DASHBOARD_LIMITS, DEFAULT_DASHBOARD_CONFIG, dashboardLimits } from './dashboard.config.js';
import { DashboardController } from './dashboard.controller.js';
import { DashboardService } from './dashboard.service.js';
import { InstanceHistory } from './instance-history.js';

/**
 * The live coordination dashboard (`GET /dashboard`, `/dashboard/snapshot`, `/dashboard/stream`).
 * `config` gives its limits (`dashboardLimits`: `streams.maxPerUser`, the library's
 * `rateLimit.violations.maxPerTenant`). `crews` is the application's CrewsModule registration,
 * the very object it imports (its CrewsService lists each company's crews, whose run locks the
 * dashboard inspects): registering CrewsModule again would make a second one, with its
 * controllers and consumers.
 *
 * @example
 * const crews = CrewsModule.register(config);
 * imports: [CoordinationModule.forRoot(config.coordination), crews, DashboardModule.register(config, crews)]
 */
@Module({})
export class DashboardModule {
  static register(config: Pick<DemoConfig, 'streams' | 'coordination'>, crews: DynamicModule): DynamicModule {
    return {
      module: DashboardModule,
      imports: [crews],
      controllers: [DashboardController],
      providers: [
        DashboardAssets, DashboardService, DashboardFeed, InstanceHistory,
        { provide: DASHBOARD_CONFIG, useValue: DEFAULT_DASHBOARD_CONFIG },
        { provide: DASHBOARD_LIMITS, useValue: dashboardLimits(config) },
      ],
    };
  }
}
