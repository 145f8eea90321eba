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

/** `--! include <path>` on a line of its own: replaced by that file (relative to the including file). */
const INCLUDE = /^--! include (\S+)[ \t]*$/gm;

/**
 * Reads a `.lua` file and expands its `--! include <path>` lines, each file at most once per
 * script (an include already expanded, directly or through another, becomes an empty line), so
 * shared pieces (the server clock, entry codecs) live in one file instead of a copy per script.
 *
 * @example
 * // locks/lua/heartbeat.lua:
 * //   --! include ../../lua/server-time.lua
 * //   local nowMs = server_time_ms()
 * const lua = readLuaSource(new URL('./lua/heartbeat.lua', import.meta.url));
 */
export function readLuaSource(url: URL, included = new Set<string>()): string {
  included.add(url.href);
  return readFileSync(url, 'utf8').replace(INCLUDE, (_line, path: string) => {
    const target = new URL(path, url);
    return included.has(target.href) ? '' : readLuaSource(target, included).replace(/\n+$/, '');
  });
}

/**
 * Loads `file` relative to `baseUrl` (pass `import.meta.url`), once at import time, with its
 * includes expanded (see readLuaSource). `RedisConnection.runScript` then runs it with EVALSHA,
 * falling back to EVAL after a NOSCRIPT.
 *
 * @example
 * const ACQUIRE = loadLuaScript('coordLockAcquire', import.meta.url, './lua/acquire.lua');
 */
export function loadLuaScript(name: string, baseUrl: string, file: string): LuaScript {
  return luaScript(name, readLuaSource(new URL(file, baseUrl)));
}
