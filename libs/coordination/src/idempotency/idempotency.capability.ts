import type { CoordinationCapability } from '../core/capability.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { IdempotencyClaims } from './idempotency-claims.js';
import { IdempotencyObserver } from './idempotency-observer.js';
import { IDEMPOTENCY_STORE } from './idempotency-store.interface.js';
import { IdempotencyInterceptor } from './idempotency.interceptor.js';
import {
  IDEMPOTENCY_OPTIONS, IdempotencyOptionsSchema, resolveIdempotencyOptions, type IdempotencyModuleOptions, type ResolvedIdempotencyOptions,
} from './idempotency.options.js';
import { IdempotencyService } from './idempotency.service.js';
import { MemoryIdempotencyStore } from './memory-idempotency.store.js';
import { RedisIdempotencyStore } from './redis-idempotency.store.js';

/**
 * Idempotency: IdempotencyService (`run` / `begin` under an idempotency key: the first attempt
 * runs, duplicates wait for its outcome or replay it) and the IdempotencyInterceptor behind
 * `@Idempotent()` (the `Idempotency-Key` header on HTTP routes).
 */
export const IDEMPOTENCY_CAPABILITY = {
  name: 'idempotency',
  options: { key: 'idempotency', schema: IdempotencyOptionsSchema, token: IDEMPOTENCY_OPTIONS, resolve: resolveIdempotencyOptions },
  providers: [
    {
      provide: IDEMPOTENCY_STORE,
      inject: [CoordinationCore],
      useFactory: (core: CoordinationCore) => (core.connection ? new RedisIdempotencyStore(core.connection) : new MemoryIdempotencyStore(core.clock)),
    },
    IdempotencyObserver,
    IdempotencyClaims,
    IdempotencyService,
    IdempotencyInterceptor,
  ],
  // IdempotencyInterceptor is built in the module of each controller using it: its dependencies are exported with it.
  exports: [IdempotencyService, IdempotencyInterceptor, IdempotencyClaims, IdempotencyObserver],
} as const satisfies CoordinationCapability<'idempotency', IdempotencyModuleOptions, ResolvedIdempotencyOptions>;
