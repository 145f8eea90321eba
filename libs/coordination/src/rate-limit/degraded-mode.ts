import type { RedisUnavailableError } from '../errors/coordination.error.js';

/** In-time probe answers in a row that end the degraded mode. */
export const PROBES_TO_RECOVER = 3;

/** How a check of a degraded decider is answered: sent to Redis as the probe, or locally at once. */
export type DegradedRoute = 'probe' | 'local';

/**
 * When rate-limit checks go to Redis (library-internal, used by RateLimitDecider). Healthy, every
 * check does. Once one met an unreachable Redis or had no answer within `rateLimit.timeoutMs`,
 * the decider is degraded: checks are answered by `onRedisUnavailable` at once, without a round
 * trip (a stalled Redis would hold each of them `timeoutMs` and queue one more script on the
 * socket), while one probe at a time goes to Redis, at most one per `probeIntervalMs` after the
 * last failure. A probe answered in time lets the next check probe at once; PROBES_TO_RECOVER
 * in-time answers in a row end the degraded mode, any failure starts the wait again. So a Redis
 * whose latency hovers around `timeoutMs` keeps the decider degraded instead of flipping it per
 * request.
 *
 * @example
 * const mode = new DegradedMode(250);
 * if (mode.degraded && mode.route() === 'local') return fallback.check(...);
 */
export class DegradedMode {
  degraded = false;
  /** What made the last check fail: what a check answered locally reports (fail-closed). */
  lastError?: RedisUnavailableError;
  private probing = false;
  private inTime = 0;
  private nextProbeAt = 0;

  constructor(private readonly probeIntervalMs: number) {}

  /** While degraded: whether this check probes Redis (and is then the one probe in flight) or is answered locally. */
  route(): DegradedRoute {
    if (this.probing || (this.inTime === 0 && performance.now() < this.nextProbeAt)) return 'local';
    this.probing = true;
    return 'probe';
  }

  /** A check (the probe or not) met an unreachable or silent Redis. True when this began the degraded mode. */
  failed(error: RedisUnavailableError, probe: boolean): boolean {
    if (probe) this.probing = false;
    this.lastError = error;
    this.inTime = 0;
    this.nextProbeAt = performance.now() + this.probeIntervalMs;
    if (this.degraded) return false;
    this.degraded = true;
    return true;
  }

  /** Redis answered a check in time while degraded. True when this ended the degraded mode. */
  answered(probe: boolean): boolean {
    // Only probes count: a check sent before the mode began says nothing about Redis now.
    if (!probe) return false;
    this.probing = false;
    if (++this.inTime < PROBES_TO_RECOVER) return false;
    this.inTime = 0;
    this.degraded = false;
    return true;
  }

  /** The probe ended otherwise (an error that is no outage): the next check may probe. */
  abandoned(probe: boolean): void {
    if (probe) this.probing = false;
  }
}
