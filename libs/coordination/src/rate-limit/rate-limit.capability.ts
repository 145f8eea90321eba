import type { CoordinationCapability } from '../core/capability.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { MemoryRateLimitStore } from './memory-rate-limit.store.js';
import {
  RATE_LIMIT_OPTIONS, RateLimitOptionsSchema, resolveRateLimitOptions, type RateLimitModuleOptions, type ResolvedRateLimitOptions,
} from './rate-limit.options.js';
import { RateLimitGuard } from './rate-limit.guard.js';
import { RateLimitService } from './rate-limit.service.js';
import { RATE_LIMIT_STORE } from './rate-limit.store.js';
import { RedisRateLimitStore, scriptClockOf } from './redis-rate-limit.store.js';
import { MemoryViolationStore, RedisViolationStore } from './violation.store.js';
import { VIOLATION_STORE } from './violation.tokens.js';

/** Rate limits: five algorithms, multi-policy checks, `@RateLimit` guard, violations. */
export const RATE_LIMIT_CAPABILITY = {
  name: 'rate limits',
  options: { key: 'rateLimit', schema: RateLimitOptionsSchema, token: RATE_LIMIT_OPTIONS, resolve: resolveRateLimitOptions },
  providers: [
  {
    provide: RATE_LIMIT_STORE,
    inject: [CoordinationCore],
    // Redis decides on the server clock unless the application injected a clock (scriptClockOf).
    useFactory: (core: CoordinationCore) =>
      core.connection ? new RedisRateLimitStore(core.connection, scriptClockOf(core)) : new MemoryRateLimitStore(core.clock),
  },
  {
    provide: VIOLATION_STORE,
    inject: [CoordinationCore, RATE_LIMIT_OPTIONS],
    useFactory: (core: CoordinationCore, options: ResolvedRateLimitOptions) => {
      const { maxPerTenant: max, retentionMs } = options.violations;
      return core.connection
        ? new RedisViolationStore(core, core.connection, max, retentionMs)
        : new MemoryViolationStore(core.clock, max, retentionMs);
    },
  },
  RateLimitService,
  RateLimitGuard,
  ],
  exports: [RateLimitService, RateLimitGuard],
} as const satisfies CoordinationCapability<'rateLimit', RateLimitModuleOptions, ResolvedRateLimitOptions>;
