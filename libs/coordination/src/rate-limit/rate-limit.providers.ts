import type { Provider } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { MemoryRateLimitStore } from './memory-rate-limit.store.js';
import { rateLimitOptionsOf } from './rate-limit-options.js';
import { RateLimitGuard } from './rate-limit.guard.js';
import { RateLimitService } from './rate-limit.service.js';
import { RATE_LIMIT_STORE } from './rate-limit.store.js';
import { RedisRateLimitStore, scriptClockOf } from './redis-rate-limit.store.js';
import { MemoryViolationStore, RedisViolationStore } from './violation.store.js';
import { VIOLATION_STORE } from './violation.tokens.js';

/** Providers this capability registers in CoordinationModule. */
export const RATE_LIMIT_PROVIDERS: Provider[] = [
  {
    provide: RATE_LIMIT_STORE,
    inject: [CoordinationCore],
    // Redis decides on the server clock unless the application injected a clock (scriptClockOf).
    useFactory: (core: CoordinationCore) =>
      core.connection ? new RedisRateLimitStore(core.connection, scriptClockOf(core)) : new MemoryRateLimitStore(core.clock),
  },
  {
    provide: VIOLATION_STORE,
    inject: [CoordinationCore],
    useFactory: (core: CoordinationCore) => {
      const { maxPerTenant: max, retentionMs } = rateLimitOptionsOf(core.options).violations;
      return core.connection
        ? new RedisViolationStore(core, core.connection, max, retentionMs)
        : new MemoryViolationStore(core.clock, max, retentionMs);
    },
  },
  RateLimitService,
  RateLimitGuard,
];
/** Of those, the ones the module exports to the application. */
export const RATE_LIMIT_EXPORTS: Array<Provider | string | symbol | Function> = [RateLimitService, RateLimitGuard, RATE_LIMIT_STORE];
