import { Module } from '@nestjs/common';
import type { ThrottlerAsyncOptions, ThrottlerModuleOptions } from '@nestjs/throttler';
import { InvalidArgumentError } from '../../errors/coordination.error.js';
import { CoordinationThrottlerStorage } from './coordination-throttler.storage.js';

/**
 * Provides `CoordinationThrottlerStorage` on the application's (global) CoordinationModule, for
 * `ThrottlerModule.forRootAsync({ imports: [CoordinationThrottlerModule], inject: [CoordinationThrottlerStorage], ... })`;
 * `withCoordinationStorage()` writes that for you.
 *
 * @example
 * ThrottlerModule.forRootAsync({
 *   imports: [CoordinationThrottlerModule],
 *   inject: [CoordinationThrottlerStorage],
 *   useFactory: (storage: CoordinationThrottlerStorage) => ({ throttlers: [{ ttl: 60_000, limit: 10 }], storage }),
 * })
 */
@Module({ providers: [CoordinationThrottlerStorage], exports: [CoordinationThrottlerStorage] })
export class CoordinationThrottlerModule {}

/**
 * The `ThrottlerModule.forRootAsync()` options that run `options` on CoordinationThrottlerStorage:
 * an application on `ThrottlerModule.forRoot(options)` switches storage by changing that one line,
 * and keeps its guard, `@Throttle()` and `@SkipThrottle()` as they are. `options` is what
 * `forRoot` takes (the array form too), without a `storage`.
 *
 * @throws InvalidArgumentError when `options` already names a storage
 *
 * @example
 * @Module({
 *   imports: [
 *     CoordinationModule.forRoot({ connection: { url: process.env.REDIS_URL } }),
 *     ThrottlerModule.forRootAsync(withCoordinationStorage({ throttlers: [{ ttl: 60_000, limit: 10 }] })),
 *   ],
 *   providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
 * })
 * export class AppModule {}
 */
export function withCoordinationStorage(options: ThrottlerModuleOptions): ThrottlerAsyncOptions {
  const base = Array.isArray(options) ? { throttlers: options } : options;
  if (typeof base !== 'object' || base === null) throw new InvalidArgumentError('options', 'must be ThrottlerModule.forRoot() options', options);
  if (base.storage !== undefined) {
    throw new InvalidArgumentError('options.storage', 'must be left out: withCoordinationStorage() sets it to CoordinationThrottlerStorage', base.storage);
  }
  return {
    imports: [CoordinationThrottlerModule],
    inject: [CoordinationThrottlerStorage],
    useFactory: (storage: CoordinationThrottlerStorage) => ({ ...base, storage }),
  };
}
