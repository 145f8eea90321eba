import type { Provider } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { LockExplorer } from './lock.explorer.js';
import { LockService } from './lock.service.js';
import { LOCK_STORE } from './lock-store.interface.js';
import { MemoryLockStore } from './memory-lock.store.js';
import { RedisLockStore } from './redis-lock.store.js';

/** Providers this capability registers in CoordinationModule. */
export const LOCK_PROVIDERS: Provider[] = [
  {
    provide: LOCK_STORE,
    inject: [CoordinationCore],
    useFactory: (core: CoordinationCore) => (core.connection ? new RedisLockStore(core.connection) : new MemoryLockStore(core.clock)),
  },
  LockService,
  LockExplorer,
];
/** Of those, the ones the module exports to the application. */
export const LOCK_EXPORTS: Array<Provider | string | symbol | Function> = [LockService, LOCK_STORE];
