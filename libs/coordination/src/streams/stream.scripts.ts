import { loadLuaScript, type LuaScript } from '../connection/lua-script.js';

const load = (name: string, file: string): LuaScript => loadLuaScript(name, import.meta.url, `./lua/${file}`);

/**
 * Every Lua script of durable streams, read once at import with their includes expanded
 * (`lua/include/entry.lua`: an entry's fields and a trimmed XADD; `lua/include/pending.lua`: the
 * pending entries list; `lua/include/dead-letter.lua`: the move to the dead-letter stream). Each
 * `.lua` file opens with a header naming its KEYS, ARGV and reply; `RedisStreamStore` is the
 * only caller and turns every reply into a typed result. Appends, reads, group creation and the inspection calls are single commands (XADD, XRANGE,
 * XLEN, XGROUP CREATE, XPENDING, XINFO GROUPS) and need none: append in particular stays one
 * plain XADD, as fast as a raw one.
 *
 * @example
 * const reply = await connection.runScript(STREAM_SCRIPTS.claim, [keys.stream, keys.dead], ['idle', group, consumer, '0-0', 30_000, 10, 5, 10_000]);
 */
export const STREAM_SCRIPTS = {
  /** Pending entries for a consumer: its own after a restart (XREADGROUP with an id) or idle ones of any consumer (XAUTOCLAIM); entries past maxDeliveries go to the dead letters. */
  claim: load('coordStreamClaim', 'claim.lua'),
  /** XACK, raising NOGROUP when the group is missing (plain XACK answers 0 then). */
  ack: load('coordStreamAck', 'ack.lua'),
  /** Reset the idle time of this consumer's own pending entries (XCLAIM JUSTID after an owner check); reports the lost ones. */
  touch: load('coordStreamTouch', 'touch.lua'),
  /** After a handler error: retry (stay pending), dead (dead letter + ack), gone or trimmed. */
  fail: load('coordStreamFail', 'fail.lua'),
  /** Hand back this consumer's never-run entries to the next idle claim, uncounted (XCLAIM IDLE RETRYCOUNT JUSTID after an owner check). */
  release: load('coordStreamRelease', 'release.lua'),
  /** Delete the group's consumers idle longer than idleMs that hold nothing (XINFO CONSUMERS, XGROUP DELCONSUMER). */
  prune: load('coordStreamPrune', 'prune.lua'),
  /** A dead letter back into the stream for its group only, removed from the dead letters. */
  replay: load('coordStreamReplay', 'replay.lua'),
} as const satisfies Record<string, LuaScript>;
