import type { CoordinationCapability } from '../core/capability.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { LeaderKeys } from './leader-keys.js';
import { LeaderObserver } from './leader-observer.js';
import { JOB_TICK_STORE, LEADER_STORE } from './leader-store.interface.js';
import { LEADER_OPTIONS, LeaderOptionsSchema, resolveLeaderOptions, type LeaderModuleOptions, type ResolvedLeaderOptions } from './leader.options.js';
import { LeaderService } from './leader.service.js';
import { MemoryJobTickStore, MemoryLeaderStore } from './memory-leader.store.js';
import { RedisJobTickStore, RedisLeaderStore } from './redis-leader.store.js';
import { SingletonJobExplorer } from './singleton-job.explorer.js';
import { SingletonJobRunner } from './singleton-job.runner.js';

/**
 * Fleet singletons: LeaderService (leader election with fencing tokens per term) and
 * `@SingletonJob()` (a `@nestjs/schedule` `@Cron` / `@Interval` handler that runs on one instance
 * per tick), run by SingletonJobRunner and registered at bootstrap by SingletonJobExplorer.
 */
export const LEADER_CAPABILITY = {
  name: 'leader',
  options: { key: 'leader', schema: LeaderOptionsSchema, token: LEADER_OPTIONS, resolve: resolveLeaderOptions },
  providers: [
    {
      provide: LEADER_STORE,
      inject: [CoordinationCore],
      useFactory: (core: CoordinationCore) => (core.connection ? new RedisLeaderStore(core.connection) : new MemoryLeaderStore(core.clock)),
    },
    {
      provide: JOB_TICK_STORE,
      inject: [CoordinationCore],
      useFactory: (core: CoordinationCore) => (core.connection ? new RedisJobTickStore(core.connection) : new MemoryJobTickStore(core.clock)),
    },
    // Internal (not exported): the keys of roles and jobs, and the events, metrics and logs of terms.
    { provide: LeaderKeys, inject: [CoordinationCore], useFactory: (core: CoordinationCore) => new LeaderKeys(core.keys) },
    LeaderObserver,
    LeaderService,
    // Internal: runs @SingletonJob ticks (injected into decorated instances) and registers their schedules at bootstrap.
    SingletonJobRunner,
    SingletonJobExplorer,
  ],
  // SingletonJobRunner: injected (ServiceSlot) into the application's providers with @SingletonJob methods.
  exports: [LeaderService, SingletonJobRunner],
} as const satisfies CoordinationCapability<'leader', LeaderModuleOptions, ResolvedLeaderOptions>;
