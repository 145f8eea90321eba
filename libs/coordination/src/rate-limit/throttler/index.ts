// `@nest-coordination/core/throttler`: a @nestjs/throttler storage on this library's rate-limit
// machinery. A separate entry point, so that @nestjs/throttler (an optional peer dependency) is
// needed only by applications that import it.
export { CoordinationThrottlerStorage } from './coordination-throttler.storage.js';
export { CoordinationThrottlerModule, withCoordinationStorage } from './coordination-throttler.module.js';
export type { CoordinationThrottlerRecord } from './throttler.types.js';
