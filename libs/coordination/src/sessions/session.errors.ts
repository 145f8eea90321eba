import { CoordinationError, ErrorCode } from '../errors/coordination.error.js';

/**
 * No such session: it never existed, expired, was destroyed, belongs to another tenant, or
 * the id is malformed (all the same answer, so nothing leaks). The HTTP status is 401.
 *
 * @example
 * await sessions.update(id, { theme: 'dark' }).catch((e) => { if (e instanceof SessionNotFoundError) login(); });
 */
export class SessionNotFoundError extends CoordinationError {
  constructor(readonly operation: string) {
    super(ErrorCode.SessionNotFound, `No such session for ${operation} (unknown, expired or ended)`, { operation });
  }
}

/**
 * A request reached a SessionGuard without a session id (no cookie, no bearer token). 401.
 *
 * @example
 * if (error instanceof SessionRequiredError) return redirect('/login');
 */
export class SessionRequiredError extends CoordinationError {
  constructor(where: string) {
    super(ErrorCode.SessionRequired, `A session is required: ${where}`, {});
  }
}

/**
 * `update(id, patch, { ifVersion })` found the session at another version: someone else
 * updated it first. 409. Re-read it and try again.
 *
 * @example
 * try { await sessions.update(id, patch, { ifVersion: s.version }); } catch (e) { if (e instanceof SessionVersionConflictError) retry(); }
 */
export class SessionVersionConflictError extends CoordinationError {
  constructor(readonly expected: number, readonly actual: number) {
    super(ErrorCode.SessionVersionConflict, `The session is at version ${actual}, not ${expected}`, { expected, actual });
  }
}

/**
 * `create` refused a session: the user already has `sessions.maxPerUser` live sessions and
 * `onMaxPerUser` is `reject`. 409.
 *
 * @example
 * catch (e) { if (e instanceof SessionLimitError) return 'log out elsewhere first'; }
 */
export class SessionLimitError extends CoordinationError {
  constructor(readonly limit: number) {
    super(ErrorCode.SessionLimit, `The user already has ${limit} sessions, the most allowed (sessions.maxPerUser)`, { limit });
  }
}
