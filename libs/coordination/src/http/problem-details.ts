import type { CoordinationError, ErrorCode } from '../errors/coordination.error.js';

/** Media type of an RFC 9457 problem details body. */
export const PROBLEM_JSON = 'application/problem+json';

/** An RFC 9457 problem details body carrying the library's stable error code, plus extension members. */
export interface ProblemDetails {
  /** `urn:coordination:error:<code>`. */
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  /**
   * Rate-limit problems (429, and 503 when failing closed): who answered the check. `local`
   * means this instance's fallback limiter decided while Redis was unreachable (or silent past
   * `rateLimit.timeoutMs`), `fail-closed` that the check was refused for that reason; otherwise
   * `redis`, `memory` or `deny-cache`.
   */
  source?: string;
  [extension: string]: unknown;
}

/** What a problem body is built from. */
export interface ProblemInput {
  code: ErrorCode;
  status: number;
  title: string;
  detail: string;
  /** Domain fields (policy, key, retryAfterMs, source, operation, ...), added after the standard members. */
  extensions?: Readonly<Record<string, unknown>>;
}

/**
 * The one builder of the library's `application/problem+json` bodies, used by
 * `CoordinationExceptionFilter` and `RateLimitGuard`, so that every HTTP error the library
 * produces has the same shape.
 *
 * @example
 * problemDetails({ code: ErrorCode.RateLimited, status: 429, title: 'Too Many Requests', detail: 'slow down', extensions: { policy: 'user' } });
 * // { type: 'urn:coordination:error:E_RATE_LIMITED', title: 'Too Many Requests', status: 429, detail: 'slow down', code: 'E_RATE_LIMITED', policy: 'user' }
 */
export function problemDetails(input: ProblemInput): ProblemDetails {
  return {
    type: `urn:coordination:error:${input.code}`,
    title: input.title,
    status: input.status,
    detail: input.detail,
    code: input.code,
    ...input.extensions,
  };
}

/**
 * The problem details body of a CoordinationError answered with `status`: its code, its class
 * name as the title, its message as the detail, its details as extension members.
 *
 * @example
 * problemOf(new TenantRequiredError('CrewsController.run'), 400); // { type: 'urn:coordination:error:E_TENANT_REQUIRED', status: 400, ... }
 */
export function problemOf(error: CoordinationError, status: number): ProblemDetails {
  return problemDetails({ code: error.code, status, title: error.name, detail: error.message, extensions: error.details });
}
