import { CoordinationError, ErrorCode } from '../errors/coordination.error.js';

/**
 * An idempotency key that is not 1-255 printable ASCII characters (a quoted structured-field
 * string is unquoted first). 400 through CoordinationExceptionFilter.
 *
 * @example
 * catch (e) { if (e instanceof IdempotencyKeyInvalidError) return res.status(400).end(); }
 */
export class IdempotencyKeyInvalidError extends CoordinationError {
  constructor(readonly reason: string) {
    super(ErrorCode.IdempotencyKeyInvalid, `Invalid idempotency key: ${reason}`, { reason });
  }
}

/**
 * An `@Idempotent({ required: true })` route got a request without the idempotency header. 400.
 *
 * @example
 * @Idempotent({ required: true }) @Post('payments') pay() { ... } // no header: 400 E_IDEMPOTENCY_KEY_REQUIRED
 */
export class IdempotencyKeyRequiredError extends CoordinationError {
  constructor(readonly header: string) {
    super(ErrorCode.IdempotencyKeyRequired, `This request needs an ${header} header`, { header });
  }
}

/**
 * The idempotency key was first used for a different request (another fingerprint: method,
 * path, tenant, user or body differ). 422 (IETF httpapi idempotency-key draft).
 *
 * @example
 * catch (e) { if (e instanceof IdempotencyMismatchError) return res.status(422).end(); }
 */
export class IdempotencyMismatchError extends CoordinationError {
  constructor() {
    super(ErrorCode.IdempotencyMismatch, 'This idempotency key was already used for a different request');
  }
}

/**
 * An attempt with the same key is still running: the duplicate was told not to wait
 * (`concurrent: 'reject'`), or waited `waitMs` in vain. 409; retry later (`retryAfterMs`).
 *
 * @example
 * catch (e) { if (e instanceof IdempotencyInFlightError) res.setHeader('Retry-After', Math.ceil(e.retryAfterMs / 1000)); }
 */
export class IdempotencyInFlightError extends CoordinationError {
  constructor(readonly retryAfterMs: number) {
    super(ErrorCode.IdempotencyInFlight, 'A request with this idempotency key is still being processed; retry later', { retryAfterMs });
  }
}
