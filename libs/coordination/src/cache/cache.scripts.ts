import { loadLuaScript, type LuaScript } from '../connection/lua-script.js';

const load = (name: string, file: string): LuaScript => loadLuaScript(name, import.meta.url, `./lua/${file}`);

/**
 * Every Lua script of the cache capability, read once at import. Each `.lua` file opens with a
 * header naming its KEYS, ARGV and reply; `RedisCacheStore` is the only caller and turns every
 * reply into a typed result. The other store operations are single commands (GET, SET PX,
 * SET NX PX, INCR, SCAN + UNLINK) and need no script.
 *
 * @example
 * const held = (await connection.runScript<number>(CACHE_SCRIPTS.fill, [entryKey, leaseKey], [value, ttlMs, token])) === 1;
 */
export const CACHE_SCRIPTS = {
  /** If the token still holds the lease: SET the entry PX ttl and DEL the lease. */
  fill: load('coordCacheFill', 'fill.lua'),
  /** DEL the lease if the token holds it. */
  releaseLease: load('coordCacheReleaseLease', 'release-lease.lua'),
} as const satisfies Record<string, LuaScript>;
