import { CoordinationError, ErrorCode } from '../errors/coordination.error.js';
import type { RateLimitDecision, RateLimitResult } from './rate-limit.types.js';

/**
 * A call was denied by a rate limit (thrown by `RateLimitService.enforce` and `enforceMany`).
 * Maps to HTTP 429 in `CoordinationExceptionFilter`.
 *
 * @example
 * try {
 *   await rateLimits.enforce(`user:${id}`, { limit: 10, windowMs: 1_000 });
 * } catch (err) {
 *   if (err instanceof RateLimitedError) res.setHeader('Retry-After', Math.ceil(err.retryAfterMs / 1000));
 * }
 */
export class RateLimitedError extends CoordinationError {
  static readonly code = ErrorCode.RateLimited;
  readonly retryAfterMs: number;

  /**
   * @param result the denying policy's result
   * @param decision the whole multi-policy decision, when thrown by `enforceMany`
   */
  constructor(readonly result: RateLimitResult, readonly decision?: RateLimitDecision) {
    super(
      ErrorCode.RateLimited,
      `Rate limit "${result.policy}" exceeded for ${result.key}; retry in ${result.retryAfterMs ?? 0} ms`,
      { key: result.key, policy: result.policy, limit: result.limit, retryAfterMs: result.retryAfterMs ?? 0, source: result.source },
    );
    this.retryAfterMs = result.retryAfterMs ?? 0;
  }
}
