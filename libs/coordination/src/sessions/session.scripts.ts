import { loadLuaScript, type LuaScript } from '../connection/lua-script.js';

const load = (name: string, file: string): LuaScript => loadLuaScript(name, import.meta.url, `./lua/${file}`);

/**
 * Every Lua script of the sessions capability, read once at import with its includes expanded
 * (`lua/include/session-index.lua`, `lua/include/session-record.lua`, `../lua/server-time.lua`).
 * A session is one Redis string, a fixed-width header of its time fields and a JSON body of
 * the others (the layout is documented in `lua/include/session-record.lua`). Each `.lua` file
 * opens with a header naming its KEYS, ARGV and reply; `RedisSessionStore` is the only caller
 * and turns every reply into a typed result. Reading without a touch, dumps, the flat
 * records and the pruner's lease are single commands (GET, SET PX, PEXPIRE, DEL, SCAN, SET NX PX)
 * and need none.
 *
 * @example
 * const record = await connection.runScript<string | null>(SESSION_SCRIPTS.read, [sessionKey], []);
 */
export const SESSION_SCRIPTS = {
  /** Prune the index, apply the per-user limit, write the record and index it. */
  create: load('coordSessionCreate', 'create.lua'),
  /** GET with the activity recorded and the idle lifetime restarted (sliding): `l` and `e` rewritten in place. */
  read: load('coordSessionRead', 'read.lua'),
  /** Set and remove fields of the JSON body, v + 1, optionally compare-and-set on v and sliding. */
  update: load('coordSessionUpdate', 'update.lua'),
  /** A new idle lifetime `i`, and the idle expiry from now (at most the absolute one). */
  extend: load('coordSessionExtend', 'extend.lua'),
  /** GETDEL the record and ZREM it from the index (reporting a member whose record had expired). */
  destroy: load('coordSessionDestroy', 'destroy.lua'),
  /** RENAME the record to a new member (touched: `l` and `e` restarted) and move it in the index (regeneration). */
  rename: load('coordSessionRename', 'rename.lua'),
  /** Prune the index and GET each live session, oldest first. */
  list: load('coordSessionList', 'list.lua'),
  /** Prune the index and DEL every live session but one. */
  destroyAll: load('coordSessionDestroyAll', 'destroy-all.lua'),
  /** Remove the expired members of an index. */
  prune: load('coordSessionPrune', 'prune.lua'),
  /** Write a dumped record back with its own expiries and index it, unless a newer version is stored (idempotent). */
  restore: load('coordSessionRestore', 'restore.lua'),
} as const satisfies Record<string, LuaScript>;
