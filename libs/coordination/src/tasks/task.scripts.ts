import { loadLuaScript, type LuaScript } from '../connection/lua-script.js';

const load = (name: string, file: string): LuaScript => loadLuaScript(name, import.meta.url, `./lua/${file}`);

/**
 * The Lua scripts of the task queue's redis backend, read once at import. BullMQ runs the queue itself (its own scripts); these
 * keep the library's per-tenant keys beside it: the fairness tags and waiting set, the tenant's
 * index (for `list`) and its dead-letter view (for `failed`). Each `.lua` file opens with a header
 * naming its KEYS, ARGV and reply (every key a script touches is in its KEYS, BullMQ's ones
 * included); RedisTaskBackend is the only caller.
 *
 * @example
 * const removed = await connection.runScript<number>(TASK_SCRIPTS.start, [keys.waiting], ['job-1', 'job-2']);
 */
export const TASK_SCRIPTS = {
  /** Tags (0 for a job id that exists), index and waiting-set entries of tasks about to be added. */
  add: load('coordTaskAdd', 'add.lua'),
  /** Tasks started for the first time: out of the waiting set (sent again by the worker until it succeeds). */
  start: load('coordTaskStart', 'start.lua'),
  /** Cancel: takes a waiting or delayed job out of BullMQ's lists atomically, and out of the index and waiting set. */
  cancel: load('coordTaskCancel', 'cancel.lua'),
  /** A task failed for the last time: into the dead-letter view (capped). */
  fail: load('coordTaskFail', 'fail.lua'),
  /** A failed task retried: out of the dead-letter view, waiting again. */
  retry: load('coordTaskRetry', 'retry.lua'),
} as const satisfies Record<string, LuaScript>;
