import { loadLuaScript, type LuaScript } from '../connection/lua-script.js';

const load = (name: string, file: string): LuaScript => loadLuaScript(name, import.meta.url, `./lua/${file}`);

/**
 * How long a singleton job's state hash lives after its latest claim (7 days): bounded garbage
 * for jobs that no longer run, far longer than any schedule's gap that matters for monotonic ticks.
 */
export const JOB_STATE_RETENTION_MS = 7 * 24 * 60 * 60 * 1_000;

/**
 * Every Lua script of the leader capability, read once at import with its includes expanded
 * (`../locks/lua/fence.lua` for fencing tokens, `../lua/server-time.lua`). Each `.lua` file
 * opens with a header naming its KEYS, ARGV and reply; `RedisLeaderStore` and
 * `RedisJobTickStore` are the only callers and turn every reply into a typed result.
 *
 * @example
 * const reply = await connection.runScript<Reply>(LEADER_SCRIPTS.campaign, [keys.lease, keys.fence], [candidate, instanceId, leaseMs]);
 */
export const LEADER_SCRIPTS = {
  /** Take a free lease (new term, next fencing token) or renew the candidate's own; else name the holder. */
  campaign: load('coordLeaderCampaign', 'campaign.lua'),
  /** PEXPIRE the lease of one candidate's term (candidate and token must match). */
  renew: load('coordLeaderRenew', 'renew.lua'),
  /** DEL the lease of one candidate's term (candidate and token must match). */
  resign: load('coordLeaderResign', 'resign.lua'),
  /** The lease's fields and PTTL in one consistent read. */
  read: load('coordLeaderRead', 'read.lua'),
  /** Claim a job's tick: monotonic, never while a run holds the lease. */
  claimTick: load('coordJobClaim', 'claim-tick.lua'),
  /** Extend a run lease (owner and token must match, the lease live). */
  renewTick: load('coordJobRenew', 'renew-tick.lua'),
  /** Free a run lease (owner and token must match, the lease live). */
  finishTick: load('coordJobFinish', 'finish-tick.lua'),
} as const satisfies Record<string, LuaScript>;
