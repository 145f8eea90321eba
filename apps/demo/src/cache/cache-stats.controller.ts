import { Controller, Get } from '@nestjs/common';
import { CacheService, type CacheStats } from '@nest-coordination/core';

/**
 * `GET /cache/stats`: this instance's cache counters since it started (`CacheService.stats()`):
 * hits (L1 / L2), misses, hit ratio, stale serves, loader calls and time, coalesced misses,
 * errors, L1 size. Counted over every company (the cache's counters are per instance, not per
 * tenant): numbers only, no keys.
 */
@Controller('cache')
export class CacheStatsController {
  constructor(private readonly cache: CacheService) {}

  @Get('stats')
  stats(): CacheStats {
    return this.cache.stats();
  }
}
