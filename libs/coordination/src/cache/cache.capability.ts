import type { CoordinationCapability } from '../core/capability.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { EVENT_TRANSPORT, type EventTransport } from '../events/event-transport.interface.js';
import { CacheBus } from './cache-bus.js';
import { CacheDecoratorsExplorer } from './cache-decorators.explorer.js';
import { CacheL1 } from './cache-l1.js';
import { CACHE_STORE } from './cache-store.interface.js';
import { CacheInterceptor } from './cache.interceptor.js';
import { CACHE_OPTIONS, CacheOptionsSchema, resolveCacheOptions, type CacheModuleOptions, type ResolvedCacheOptions } from './cache.options.js';
import { CacheService } from './cache.service.js';
import { EmbeddingCache } from './embedding-cache.js';
import { MemoryCacheStore } from './memory-cache.store.js';
import { RedisCacheStore } from './redis-cache.store.js';

/** Cache: CacheService (L1 + Redis, getOrSet, tags, early refresh), `@Cacheable` & co, CacheInterceptor, EmbeddingCache. */
export const CACHE_CAPABILITY = {
  name: 'cache',
  options: { key: 'cache', schema: CacheOptionsSchema, token: CACHE_OPTIONS, resolve: resolveCacheOptions },
  providers: [
    {
      provide: CACHE_STORE,
      inject: [CoordinationCore],
      useFactory: (core: CoordinationCore) => (core.connection ? new RedisCacheStore(core.connection) : new MemoryCacheStore(core.clock)),
    },
    // Internal (not exported): the L1 and the fleet bus of this module instance. CacheService
    // starts the bus at module init and closes it at shutdown.
    {
      provide: CacheL1,
      inject: [CoordinationCore, CACHE_OPTIONS],
      useFactory: (core: CoordinationCore, options: ResolvedCacheOptions) => new CacheL1(options.l1, core.clock),
    },
    {
      provide: CacheBus,
      inject: [CoordinationCore, EVENT_TRANSPORT, CacheL1],
      useFactory: (core: CoordinationCore, transport: EventTransport, l1: CacheL1) => new CacheBus(core, transport, l1),
    },
    CacheService,
    EmbeddingCache,
    CacheInterceptor,
    // Internal (not exported): fails the boot for @Cacheable instances Nest gave no CacheService.
    CacheDecoratorsExplorer,
  ],
  exports: [CacheService, EmbeddingCache, CacheInterceptor],
} as const satisfies CoordinationCapability<'cache', CacheModuleOptions, ResolvedCacheOptions>;
