import { loadLuaScript, type LuaScript } from '../connection/lua-script.js';
import type { RateLimitAlgorithm } from './rate-limit.types.js';

// Every script of the capability, loaded once at import. A check script is one entry file
// (lua/check-*.lua) that includes the prelude, the algorithm fragment(s) it needs and the
// shared check body (lua/include/), so the single-algorithm scripts (the hot path) stay
// small while the mixed script runs the exact same code. Each check is one EVALSHA.
const load = (name: string, file: string): LuaScript => loadLuaScript(name, import.meta.url, `./lua/${file}`);

/** One check script per algorithm, for checks whose policies all use that algorithm. */
export const RATE_LIMIT_SCRIPTS: Readonly<Record<RateLimitAlgorithm, LuaScript>> = {
  'sliding-window': load('coordRateLimitSlidingWindow', 'check-sliding-window.lua'),
  'sliding-window-approx': load('coordRateLimitSlidingWindowApprox', 'check-sliding-window-approx.lua'),
  'fixed-window': load('coordRateLimitFixedWindow', 'check-fixed-window.lua'),
  'token-bucket': load('coordRateLimitTokenBucket', 'check-token-bucket.lua'),
  gcra: load('coordRateLimitGcra', 'check-gcra.lua'),
};

/** The check script carrying every algorithm, for checks that mix them. */
export const RATE_LIMIT_MIXED_SCRIPT: LuaScript = load('coordRateLimitMixed', 'check-mixed.lua');

/** Appends violations to a tenant's capped log and counts them per key for alerts. */
export const RECORD_VIOLATIONS_SCRIPT: LuaScript = load('coordRateLimitRecordViolations', 'record-violations.lua');

/** Records an instance's heartbeat in its fleet and counts the instances alive (sizes the local fallback). */
export const FLEET_HEARTBEAT_SCRIPT: LuaScript = load('coordRateLimitFleetHeartbeat', 'fleet-heartbeat.lua');
