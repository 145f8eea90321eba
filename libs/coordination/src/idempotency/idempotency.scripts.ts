import { loadLuaScript, type LuaScript } from '../connection/lua-script.js';

const load = (name: string, file: string): LuaScript => loadLuaScript(name, import.meta.url, `./lua/${file}`);

/**
 * Every Lua script of the idempotency capability, read once at import. A record is one hash
 * (`state` running | done, `fp`, `owner`, `outcome` once done) under one key, so each script
 * touches one key (one slot on a cluster); its lifetime is the lease while in flight, the
 * replay ttl once done. Each `.lua` file opens with a header naming its KEYS, ARGV and reply;
 * `RedisIdempotencyStore` is the only caller and turns every reply into a typed result.
 *
 * @example
 * const reply = await connection.runScript<BeginReply>(IDEMPOTENCY_SCRIPTS.begin, [key], [fingerprint, owner, leaseMs]);
 */
export const IDEMPOTENCY_SCRIPTS = {
  /** Check-and-lock: acquired (in-flight record written), mismatch, in-flight (PTTL) or completed (outcome). */
  begin: load('coordIdempotencyBegin', 'begin.lua'),
  /** PEXPIRE the owner's in-flight record. */
  renew: load('coordIdempotencyRenew', 'renew.lua'),
  /** The owner's in-flight record becomes done with its outcome, PEXPIRE ttl. */
  complete: load('coordIdempotencyComplete', 'complete.lua'),
  /** DEL the owner's in-flight record. */
  abandon: load('coordIdempotencyAbandon', 'abandon.lua'),
} as const satisfies Record<string, LuaScript>;
