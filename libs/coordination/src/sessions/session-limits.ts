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
