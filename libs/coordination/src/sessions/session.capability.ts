import type { CoordinationCapability } from '../core/capability.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { MemorySessionStore } from './memory-session.store.js';
import { RedisSessionStore } from './redis-session.store.js';
import { SessionCookies } from './session-cookies.js';
import { SessionKeys } from './session-keys.js';
import { SessionObserver } from './session-observer.js';
import { SessionPruner } from './session-pruner.js';
import { SessionRecords } from './session-records.js';
import { SESSION_STORE } from './session-store.interface.js';
import { SessionGuard } from './session.guard.js';
import { SESSION_OPTIONS, SessionOptionsSchema, resolveSessionOptions, type ResolvedSessionOptions, type SessionModuleOptions } from './session.options.js';
import { SessionService } from './session.service.js';

/**
 * Sessions: SessionService (sliding and absolute expiry, per-user index, revoke-all, regeneration,
 * backup), the SessionGuard with `@CurrentSession()`, SessionCookies, and SessionRecords (the
 * records behind the express-session store of `@nest-coordination/core/express-session`).
 */
export const SESSIONS_CAPABILITY = {
  name: 'sessions',
  options: { key: 'sessions', schema: SessionOptionsSchema, token: SESSION_OPTIONS, resolve: resolveSessionOptions },
  providers: [
    {
      provide: SESSION_STORE,
      inject: [CoordinationCore, SESSION_OPTIONS],
      // An index outlives its sessions' absolute expiry by two pruner passes (at least a minute),
      // so the pass still finds a session that ended there and announces `session.expired`.
      useFactory: (core: CoordinationCore, options: ResolvedSessionOptions) => {
        const store = { indexGraceMs: Math.max(2 * options.pruneIntervalMs, 60_000) };
        return core.connection ? new RedisSessionStore(core.connection, store) : new MemorySessionStore(core.clock, store);
      },
    },
    // Internal (not exported): the keys of sessions, their events and metrics, and the
    // background pass pruning expired sessions from the per-user indexes (started at module
    // init, stopped at shutdown before the connection closes).
    { provide: SessionKeys, inject: [CoordinationCore], useFactory: (core: CoordinationCore) => new SessionKeys(core.keys) },
    SessionObserver,
    SessionPruner,
    SessionService,
    // Nest integration: the guard (with @CurrentSession()), the cookie writer, and the flat
    // records of the express-session store.
    SessionGuard,
    SessionCookies,
    SessionRecords,
  ],
  exports: [SessionService, SessionGuard, SessionCookies, SessionRecords],
} as const satisfies CoordinationCapability<'sessions', SessionModuleOptions, ResolvedSessionOptions>;
