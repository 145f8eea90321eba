import type { CoordinationCapability } from '../core/capability.js';
import { CoordinationHealthIndicator } from './coordination-health.indicator.js';

/** Health: the Terminus indicator (reachability, latency, topology, memory, breaker). */
export const HEALTH_CAPABILITY = {
  name: 'health',
  providers: [CoordinationHealthIndicator],
  exports: [CoordinationHealthIndicator],
} as const satisfies CoordinationCapability;
