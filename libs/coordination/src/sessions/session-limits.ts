// Bounds of the sessions capability, in a module of its own: the express-session subpath needs
// them without loading session.options.ts, whose decorated schema classes need reflect-metadata
// (an application may import `@nest-coordination/core/express-session` before anything else).

/**
 * Longest lifetime (`ttlMs`, `absoluteTtlMs`) sessions accept: 365 days.
 *
 * @example
 * sessions: { absoluteTtlMs: MAX_SESSION_TTL_MS }
 */
export const MAX_SESSION_TTL_MS = 31_536_000_000;

/**
 * Most live sessions one user may have, whatever `sessions.maxPerUser` says (0, "no limit",
 * included; a larger `maxPerUser` fails the boot): creating, listing and revoking a user's
 * sessions are each one script over the user's whole index, which must stay small enough never
 * to block Redis. At the ceiling, `sessions.onMaxPerUser` applies: the oldest session is ended
 * (`evict-oldest`, the default) or SessionLimitError thrown (`reject`).
 *
 * @example
 * sessions: { maxPerUser: MAX_SESSIONS_PER_USER, onMaxPerUser: 'reject' }
 */
export const MAX_SESSIONS_PER_USER = 1_000;

/**
 * How far past the store's clock the creation time `t` of a restored record may be (clocks
 * of instances and Redis a little apart); a record created later than that is refused
 * (library-internal).
 */
export const MAX_RESTORE_AHEAD_MS = 60_000;
