/**
 * One session as SessionService returns it. `data` holds what the application stores in the
 * session (merged field by field by `update`); the other fields are the library's.
 *
 * @example
 * const session = await sessions.create('ada', { theme: 'dark' }, { companyId: 'acme' });
 * session.id;            // 'acme.Jx3...' : the bearer secret, put it in a cookie, never in a log
 * session.lastActivity;  // a Date
 */
export interface Session<D extends Record<string, unknown> = Record<string, unknown>> {
  /**
   * The session id: `<tenant>.<22 characters of 128 random bits><3-character slot tag>`,
   * URL-safe. Bound to its tenant: looked up under another tenant it is simply not found.
   * A bearer secret: whoever holds it is the session's user.
   */
  readonly id: string;
  /** A non-secret reference to the session (a hash of its id) for lists, logs and events. */
  readonly handle: string;
  readonly tenant: string;
  readonly userId: string;
  readonly companyId?: string;
  readonly crewId?: string;
  /** The application's session data. */
  readonly data: D;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
  /** Last `create`, `get` (sliding), `update`, `extend` or `regenerate`. */
  readonly lastActivity: Date;
  /** When the session ends unless it is used again (sliding): at most `absoluteExpiresAt`. */
  readonly expiresAt: Date;
  /** When the session ends whatever happens: `createdAt + absoluteTtlMs`. */
  readonly absoluteExpiresAt: Date;
  /** Incremented by every `update`: the `ifVersion` of a compare-and-set update. */
  readonly version: number;
}

/** What `listForUser` returns per session: everything but the id (a bearer secret). */
export type SessionSummary<D extends Record<string, unknown> = Record<string, unknown>> = Omit<Session<D>, 'id'>;

/** Options every method takes. */
export interface SessionCallOptions {
  /** The tenant; defaults to the tenant context (and, for an id, to the tenant the id names). */
  tenant?: string;
}

/** Options of `SessionService.create`. */
export interface CreateSessionOptions extends SessionCallOptions {
  /** Idle lifetime (sliding: each use restarts it), bounded by `absoluteTtlMs`. Default `sessions.ttlMs`. */
  ttlMs?: number;
  /** Longest lifetime whatever the use. Default `sessions.absoluteTtlMs`. */
  absoluteTtlMs?: number;
  companyId?: string;
  crewId?: string;
  /** Free-form, JSON-like (user agent, IP, login method, ...). */
  metadata?: Record<string, unknown>;
}

/** Options of `SessionService.get`. */
export interface GetSessionOptions extends SessionCallOptions {
  /** Restart the idle lifetime and record the activity. Default `sessions.sliding`. */
  touch?: boolean;
}

/** Options of `SessionService.update`. */
export interface UpdateSessionOptions extends SessionCallOptions {
  /** Compare-and-set: update only while the session is at this version, else SessionVersionConflictError. */
  ifVersion?: number;
}

/** Options of `SessionService.extend`. */
export interface ExtendSessionOptions extends SessionCallOptions {
  /** The session's new idle lifetime, from now and for its later uses, bounded by the absolute lifetime. Default: the session's own. */
  ttlMs?: number;
}

/** Options of `SessionService.destroyAllForUser`. */
export interface DestroyAllOptions extends SessionCallOptions {
  /** A session id to keep (the caller's own: "log out everywhere else"). */
  except?: string;
}

/** Options of `SessionService.exportSessions`. */
export interface ExportSessionsOptions {
  /**
   * One tenant (default: the tenant context, else the shared namespace `_shared` only), or `'*'`
   * for every tenant of this key prefix.
   */
  tenant?: string;
}

/** Options of `SessionService.importSessions`. */
export interface ImportSessionsOptions {
  /**
   * Restore only the lines of this tenant (the others are counted in `skipped`), or of every
   * tenant with `'*'`. Default: the tenant context, else the shared namespace (`_shared`) only.
   */
  tenant?: string;
}

/** What `importSessions` did. */
export interface ImportSessionsResult {
  /** Sessions written (again: a restore is idempotent). */
  restored: number;
  /** Sessions left as they are: stored at a higher version than the line's (updated since the export). */
  kept: number;
  /** Lines whose session had expired by now: not restored. */
  expired: number;
  /** Lines of another tenant than the one imported (`options.tenant`, the tenant context or `_shared`). */
  skipped: number;
}

/** Payload of the `session.created` event. */
export interface SessionCreatedEvent {
  handle: string;
  userId: string;
  companyId?: string;
  crewId?: string;
}

/**
 * Payload of `session.destroyed` (`reason`: `destroy`, `regenerated`, `evicted` by
 * `maxPerUser`), `session.revoked` (by `destroyAllForUser`) and `session.expired`.
 */
export interface SessionEndedEvent {
  handle: string;
  userId: string;
  reason?: 'destroy' | 'regenerated' | 'evicted';
}
