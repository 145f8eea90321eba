import { loadLuaScript, type LuaScript } from '../connection/lua-script.js';

const load = (name: string, file: string): LuaScript => loadLuaScript(name, import.meta.url, `./lua/${file}`);

/**
 * The Lua scripts of the task queue's redis backend, read once at import (`lua/include/waiting.lua`:
 * the waiting count of the fairness hash). BullMQ runs the queue itself (its own scripts); these
 * keep the library's per-tenant keys beside it: the fairness tags and waiting count, the tenant's
 * index (for `list`) and its dead-letter view (for `failed`). Each `.lua` file opens with a header
 * naming its KEYS, ARGV and reply; RedisTaskBackend is the only caller.
 *
 * @example
 * const tags = await connection.runScript<number[]>(TASK_SCRIPTS.add, [keys.fair, keys.index], [jobKeyPrefix, Date.now(), 10_000, 86_400_000, TAG_LIMIT, 'job-1']);
 */
export const TASK_SCRIPTS = {
  /** Tags (0 for a job id that exists), index entries and waiting count of tasks about to be added. */
  add: load('coordTaskAdd', 'add.lua'),
  /** A task started for the first time: one less waiting (fire-and-forget by the worker). */
  start: load('coordTaskStart', 'start.lua'),
  /** A cancelled task: out of the index, and of the waiting count when it never started. */
  cancel: load('coordTaskCancel', 'cancel.lua'),
  /** A task failed for the last time: into the dead-letter view (capped). */
  fail: load('coordTaskFail', 'fail.lua'),
  /** A failed task retried: out of the dead-letter view, waiting again. */
  retry: load('coordTaskRetry', 'retry.lua'),
} as const satisfies Record<string, LuaScript>;
