// `@nest-coordination/core/testing`: what an application's own tests need.
export { createCoordinationTestingModule } from './coordination-testing.js';
export type { CoordinationTestingOptions, CoordinationTestingContext } from './coordination-testing.js';
export { ManualClock } from '../core/clock.js';
export type { Clock } from '../core/clock.js';
