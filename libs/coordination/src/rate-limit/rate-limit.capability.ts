import type { CoordinationCapability } from '../core/capability.js';
import type { Clock } from '../core/clock.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { MemoryRateLimitStore } from './memory-rate-limit.store.js';
import { MemoryViolationStore } from './memory-violation.store.js';
import { RATE_LIMIT_STORE } from './rate-limit-store.interface.js';
import {
  RATE_LIMIT_OPTIONS, RateLimitOptionsSchema, resolveRateLimitOptions, type RateLimitModuleOptions, type ResolvedRateLimitOptions,
} from './rate-limit.options.js';
import { RateLimitGuard } from './rate-limit.guard.js';
import { RateLimitService } from './rate-limit.service.js';
import { RedisRateLimitStore } from './redis-rate-limit.store.js';
import { RedisViolationStore } from './redis-violation.store.js';
import { VIOLATION_STORE } from './violation-store.interface.js';

/**
 * The clock the Redis scripts should use instead of the server's: the module's clock, but
 * only when the application configured one (`clock` option, e.g. a ManualClock in tests).
 * Otherwise undefined, and the scripts read `TIME`, so that instances with skewed clocks
 * agree: the production default.
 */
function scriptClockOf(core: CoordinationCore): Clock | undefined {
  return core.options.raw.clock !== undefined ? core.clock : undefined;
}

/** Rate limits: five algorithms, multi-policy checks, `@RateLimit` guard, violations. */
export const RATE_LIMIT_CAPABILITY = {
  name: 'rate limits',
  options: { key: 'rateLimit', schema: RateLimitOptionsSchema, token: RATE_LIMIT_OPTIONS, resolve: resolveRateLimitOptions },
  providers: [
    {
      provide: RATE_LIMIT_STORE,
      inject: [CoordinationCore],
      useFactory: (core: CoordinationCore) =>
        core.connection ? new RedisRateLimitStore(core.connection, scriptClockOf(core)) : new MemoryRateLimitStore(core.clock),
    },
    {
      provide: VIOLATION_STORE,
      inject: [CoordinationCore, RATE_LIMIT_OPTIONS],
      useFactory: (core: CoordinationCore, options: ResolvedRateLimitOptions) =>
        core.connection
          ? new RedisViolationStore(core.connection, core.keys, options.violations, scriptClockOf(core))
          : new MemoryViolationStore(core.clock, options.violations),
    },
    RateLimitService,
    RateLimitGuard,
  ],
  exports: [RateLimitService, RateLimitGuard],
} as const satisfies CoordinationCapability<'rateLimit', RateLimitModuleOptions, ResolvedRateLimitOptions>;
