import { CACHE_CAPABILITY } from './cache/cache.capability.js';
import type { CapabilitySections } from './core/capability.js';
import { EVENTS_CAPABILITY } from './events/events.capability.js';
import { HEALTH_CAPABILITY } from './health/health.capability.js';
import { IDEMPOTENCY_CAPABILITY } from './idempotency/idempotency.capability.js';
import { LEADER_CAPABILITY } from './leader/leader.capability.js';
import { LOCKS_CAPABILITY } from './locks/locks.capability.js';
import { RATE_LIMIT_CAPABILITY } from './rate-limit/rate-limit.capability.js';
import { SESSIONS_CAPABILITY } from './sessions/session.capability.js';
import { STREAMS_CAPABILITY } from './streams/streams.capability.js';
import { TASKS_CAPABILITY } from './tasks/tasks.capability.js';

/**
 * Every capability CoordinationModule registers, in registration order. A new capability is
 * its own folder plus one entry here; its options section joins CoordinationModuleOptions
 * through the type below.
 */
export const CAPABILITIES = [EVENTS_CAPABILITY, HEALTH_CAPABILITY, LOCKS_CAPABILITY, RATE_LIMIT_CAPABILITY, CACHE_CAPABILITY, SESSIONS_CAPABILITY, STREAMS_CAPABILITY, TASKS_CAPABILITY, IDEMPOTENCY_CAPABILITY, LEADER_CAPABILITY] as const;

/** `{ locks?: LockModuleOptions; rateLimit?: RateLimitModuleOptions; ... }`, from the list above. */
export type CapabilityModuleOptions = CapabilitySections<typeof CAPABILITIES>;
