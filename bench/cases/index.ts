import type { BenchSuite } from '../harness/types.js';
import * as baseline from './baseline.bench.js';
import * as locks from './locks.bench.js';
import * as events from './events.bench.js';
import * as rateLimit from './rate-limit.bench.js';
import * as http from './http.bench.js';
import * as cache from './cache.bench.js';
import * as sessions from './sessions.bench.js';
import * as streams from './streams.bench.js';
import * as tasks from './tasks.bench.js';
import * as idempotency from './idempotency.bench.js';
import * as leader from './leader.bench.js';
import * as throttler from './throttler.bench.js';

/**
 * Every benchmark module, in run order. A module exports `cases: BenchCase[]` and optionally
 * `groups: BenchGroupOptions[]` (metric, concurrency, count, targets), e.g.
 *   export const groups = [{ name: 'locks: uncontended acquire+release',
 *     targets: [{ case: 'ours', versus: 'redis-semaphore', atLeast: 1.2 }] }];
 * To add one: `import * as locks from './locks.bench.js';` and append `locks` below.
 */
export const suites: BenchSuite[] = [baseline, events, rateLimit, http, locks, cache, sessions, streams, tasks, idempotency, leader, throttler];
