import { readFileSync } from 'node:fs';

/** A Lua script loaded from a `.lua` file that ships beside the code using it. */
export interface LuaScript {
  /** Unique command name, e.g. `coordLockAcquire`; registered through ioredis defineCommand. */
  readonly name: string;
  readonly lua: string;
}

/**
 * Loads `file` relative to `baseUrl` (pass `import.meta.url`). Read once at import time;
 * ioredis then runs it with EVALSHA, falling back to EVAL after a NOSCRIPT.
 *
 * @example
 * const ACQUIRE = loadLuaScript('coordLockAcquire', import.meta.url, './lua/acquire.lua');
 */
export function loadLuaScript(name: string, baseUrl: string, file: string): LuaScript {
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(name)) throw new Error(`Lua script name ${JSON.stringify(name)} must be alphanumeric`);
  return { name, lua: readFileSync(new URL(file, baseUrl), 'utf8') };
}
