// `@nest-coordination/core/express-session`: the express-session Store on this library's
// sessions storage. A separate entry point, so that express-session (an optional peer
// dependency) is loaded only by applications that import it.
export { CoordinationSessionStore } from './coordination-session.store.js';
export type { CoordinationSessionStoreOptions } from './coordination-session.store.js';
