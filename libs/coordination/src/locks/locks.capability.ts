import { CoordinationCore } from '../core/coordination-core.js';
import type { CoordinationCapability } from '../core/capability.js';
import { LOCK_OPTIONS, LockOptionsSchema, resolveLockOptions, type LockModuleOptions, type ResolvedLockOptions } from './lock.options.js';
import { LockService } from './lock.service.js';
import { LOCK_STORE } from './lock-store.interface.js';
import { MemoryLockStore } from './memory-lock.store.js';
import { RedisLockStore } from './redis-lock.store.js';
import { WithLockExplorer } from './with-lock.explorer.js';

/** Distributed locks: mutexes, semaphores, read-write locks, `@WithLock`. */
export const LOCKS_CAPABILITY = {
  name: 'locks',
  options: { key: 'locks', schema: LockOptionsSchema, token: LOCK_OPTIONS, resolve: resolveLockOptions },
  providers: [
    {
      provide: LOCK_STORE,
      inject: [CoordinationCore],
      useFactory: (core: CoordinationCore) => (core.connection ? new RedisLockStore(core.connection) : new MemoryLockStore(core.clock)),
    },
    LockService,
    // Internal (not exported): fails the boot for @WithLock instances Nest gave no LockService.
    WithLockExplorer,
  ],
  exports: [LockService],
} as const satisfies CoordinationCapability<'locks', LockModuleOptions, ResolvedLockOptions>;
