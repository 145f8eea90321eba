import type { RateLimitAlgorithm } from '../../libs/coordination/src/rate-limit/rate-limit.types.js';

/**
 * The retry time of a key denied after a limit of 3 in window `windowMs` was spent in one
 * instant `offsetMs` into an aligned window, per algorithm: the exact answer both the service
 * and the store contract suites expect.
 */
export function retryAfterFullBurst(algorithm: RateLimitAlgorithm, windowMs: number, offsetMs: number): number {
  const expected: Record<RateLimitAlgorithm, number> = {
    'sliding-window': windowMs, // the first admission leaves the window
    'sliding-window-approx': windowMs - offsetMs + windowMs / 3, // next window, once the 3 decayed to 2
    'fixed-window': windowMs - offsetMs, // the window boundary
    'token-bucket': windowMs / 3, // one token refilled
    gcra: windowMs / 3, // one emission interval
  };
  return expected[algorithm];
}
