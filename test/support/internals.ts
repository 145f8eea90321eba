// Library internals the tests reach into (stores, the core, key and script helpers). They are not
// part of the public API (libs/coordination/src/index.ts), so tests import them from the source.
export { CoordinationCore } from '../../libs/coordination/src/core/coordination-core.js';
export { KeyBuilder } from '../../libs/coordination/src/keys/key-builder.js';
export { loadLuaScript } from '../../libs/coordination/src/connection/lua-script.js';
export { normalizePolicy } from '../../libs/coordination/src/rate-limit/rate-limit-policy.js';
export { RATE_LIMIT_STORE } from '../../libs/coordination/src/rate-limit/rate-limit-store.interface.js';
export type { RateLimitStore } from '../../libs/coordination/src/rate-limit/rate-limit-store.interface.js';
