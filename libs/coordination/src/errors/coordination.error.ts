/**
 * Stable machine-readable error codes. A code never changes meaning once published;
 * HTTP mapping happens only in guards and exception filters.
 */
export const ErrorCode = {
  InvalidOptions: 'E_INVALID_OPTIONS',
  InvalidArgument: 'E_INVALID_ARGUMENT',
  InvalidKey: 'E_INVALID_KEY',
  TenantInvalid: 'E_TENANT_INVALID',
  TenantRequired: 'E_TENANT_REQUIRED',
  RedisUnavailable: 'E_REDIS_UNAVAILABLE',
  CircuitOpen: 'E_CIRCUIT_OPEN',
  Serialization: 'E_SERIALIZATION',
  Deserialization: 'E_DESERIALIZATION',
  LockTimeout: 'E_LOCK_TIMEOUT',
  LockLost: 'E_LOCK_LOST',
  LockAborted: 'E_LOCK_ABORTED',
  Deadlock: 'E_DEADLOCK',
  LockShutdown: 'E_LOCK_SHUTDOWN',
  RateLimited: 'E_RATE_LIMITED',
  SessionNotFound: 'E_SESSION_NOT_FOUND',
  SessionRequired: 'E_SESSION_REQUIRED',
  SessionVersionConflict: 'E_SESSION_VERSION_CONFLICT',
  SessionLimit: 'E_SESSION_LIMIT',
  DeadLetterNotFound: 'E_DEAD_LETTER_NOT_FOUND',
  StreamShutdown: 'E_STREAM_SHUTDOWN',
  TaskNotFound: 'E_TASK_NOT_FOUND',
  TaskState: 'E_TASK_STATE',
  TaskTimeout: 'E_TASK_TIMEOUT',
  TaskShutdown: 'E_TASK_SHUTDOWN',
  IdempotencyKeyInvalid: 'E_IDEMPOTENCY_KEY_INVALID',
  IdempotencyKeyRequired: 'E_IDEMPOTENCY_KEY_REQUIRED',
  IdempotencyMismatch: 'E_IDEMPOTENCY_MISMATCH',
  IdempotencyInFlight: 'E_IDEMPOTENCY_IN_FLIGHT',
  LeaderShutdown: 'E_LEADER_SHUTDOWN',
  LeaderLost: 'E_LEADER_LOST',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Base class of every error this library throws. `code` is stable across versions;
 * `details` carries domain fields (the offending option, key, tenant, ...).
 *
 * @example
 * try {
 *   await locks.acquire('invoice:42', { ttlMs: 5_000, waitMs: 1_000 });
 * } catch (err) {
 *   if (err instanceof CoordinationError && err.code === ErrorCode.LockTimeout) {
 *     // someone else holds it
 *   }
 * }
 */
export class CoordinationError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = Object.freeze({ ...details });
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

/** An option passed to `CoordinationModule.forRoot()` is invalid; thrown at startup. */
export class InvalidOptionsError extends CoordinationError {
  constructor(message: string, readonly problems: ReadonlyArray<{ option: string; reason: string }>) {
    super(ErrorCode.InvalidOptions, message, { problems });
  }
}

/** A method argument is invalid (NaN, negative TTL, empty key, ...). Names the argument. */
export class InvalidArgumentError extends CoordinationError {
  constructor(readonly argument: string, reason: string, readonly value?: unknown) {
    super(ErrorCode.InvalidArgument, `Invalid argument "${argument}": ${reason}`, { argument, reason });
  }
}

/** A key or id contains characters that could escape its namespace. */
export class InvalidKeyError extends CoordinationError {
  constructor(readonly part: string, reason: string) {
    super(ErrorCode.InvalidKey, `Invalid ${part}: ${reason}`, { part, reason });
  }
}

/** A tenant id is malformed. */
export class TenantInvalidError extends CoordinationError {
  constructor(reason: string) {
    super(ErrorCode.TenantInvalid, `Invalid tenant id: ${reason}`, { reason });
  }
}

/**
 * A tenant is required (tenancy.required) but none is in context or given explicitly.
 * `remedy` tells the caller how to supply one; an HTTP request is told what it should have
 * carried (see `TenantResolver.requiredError`).
 */
export class TenantRequiredError extends CoordinationError {
  constructor(operation?: string, remedy = 'pass { tenant } or run inside a tenant context') {
    super(
      ErrorCode.TenantRequired,
      `A tenant is required${operation ? ` for ${operation}` : ''} but none was resolved; ${remedy}`,
      { operation },
    );
  }
}

/**
 * Redis could not be reached (connection down, timeout) for an operation. `operation` names it in
 * the terms of the public API (`locks.acquire`, `rateLimit.enforce`), as HTTP callers see it in
 * the problem body (`detail` and `operation`), never an internal script name.
 *
 * @example
 * new RedisUnavailableError('locks.acquire', cause).message; // "Redis is unavailable for locks.acquire"
 */
export class RedisUnavailableError extends CoordinationError {
  constructor(
    readonly operation: string,
    cause?: unknown,
    code: ErrorCode = ErrorCode.RedisUnavailable,
    message = `Redis is unavailable for ${operation}`,
    details: Record<string, unknown> = { operation },
  ) {
    super(code, message, details, { cause });
  }
}

/**
 * The circuit breaker is open: calls fail fast until a probe succeeds. A subclass of
 * `RedisUnavailableError`, so one `instanceof RedisUnavailableError` check covers both.
 * `operation` names the call that was refused, as for RedisUnavailableError.
 *
 * @example
 * new CircuitOpenError(Date.parse('2030-01-01T00:00:05Z'), 'locks.acquire').message;
 * // "Redis is unavailable for locks.acquire: the circuit breaker is open until 2030-01-01T00:00:05.000Z"
 */
export class CircuitOpenError extends RedisUnavailableError {
  constructor(readonly retryAtMs: number, operation = 'this call') {
    const retryAt = new Date(retryAtMs).toISOString();
    super(operation, undefined, ErrorCode.CircuitOpen, `Redis is unavailable for ${operation}: the circuit breaker is open until ${retryAt}`, {
      operation, retryAt,
    });
  }
}
