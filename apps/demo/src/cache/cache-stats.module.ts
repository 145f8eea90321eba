import { Module } from '@nestjs/common';
import { CacheStatsController } from './cache-stats.controller.js';

/** The cache counters view of the demo; the caching itself is in `CrewConfigs`, `CompaniesService` and `GET /crews/:crewId`. */
@Module({ controllers: [CacheStatsController] })
export class CacheStatsModule {}
