import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** A Lua script loaded from a `.lua` file that ships beside the code using it. */
export interface LuaScript {
  /** Names the script in errors, metrics and breaker operations, e.g. `coordLockAcquire`. */
  readonly name: string;
  readonly lua: string;
  /** SHA1 of `lua`, for EVALSHA. */
  readonly sha: string;
}

/**
 * Builds a script from Lua source text (for scripts assembled from several `.lua` pieces).
 *
 * @example
 * const script = luaScript('coordRateLimitCheck', prelude + body);
 */
export function luaScript(name: string, lua: string): LuaScript {
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(name)) throw new Error(`Lua script name ${JSON.stringify(name)} must be alphanumeric`);
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Loads `file` relative to `baseUrl` (pass `import.meta.url`), once at import time.
 * `RedisConnection.runScript` then runs it with EVALSHA, falling back to EVAL after a NOSCRIPT.
 *
 * @example
 * const ACQUIRE = loadLuaScript('coordLockAcquire', import.meta.url, './lua/acquire.lua');
 */
export function loadLuaScript(name: string, baseUrl: string, file: string): LuaScript {
  return luaScript(name, readFileSync(new URL(file, baseUrl), 'utf8'));
}
