--[[
  Include: prelude of every rate-limit check script. Each check-*.lua declares its argument
  layout (FIRST, STRIDE, CODE below), then includes this, the algorithm fragment(s) it needs
  (include/<algorithm>.lua) and include/check-policies.lua, so the single-algorithm scripts (the
  hot path) carry only their own algorithm and arguments while the mixed script runs the exact
  same code.

  Layout, declared by the entry script before this include:
    FIRST   index in ARGV of the first policy's arguments
    STRIDE  arguments per policy: limit, window (ms), then burst for token-bucket and gcra (the
            only algorithms that use it; '' means the limit); the mixed script sends code,
            limit, window, burst
    CODE    the algorithm of every policy (1-5), or nil when each policy's arguments start with it

  ARGV[1]  signed cost: n > 0 consumes n units, -n only checks (peek) for n units
  ARGV[FIRST + STRIDE * #KEYS]  optional: the current time (us, integer); absent means TIME.
    Only when the application injected a clock (a ManualClock in tests), so the production
    call carries nothing extra. Microseconds, not the shared server_time_ms()
    (lua/server-time.lua): the exact sliding window orders admissions within a millisecond, and
    the memory store decides in us alike. Read once, here, for every policy of the check.

  Conventions shared by the algorithm fragments:
    now, window, reset, retry: microseconds (integers for now; may be fractional inside)
    ALGO[code] = { check = function(key, now, limit, window, burst, cost)
                     -> allowed (0|1), remaining, reset_us, retry_us, s1, s2, s3,
                   commit = function(key, now, window, cost, member, s1, s2, s3, limit, burst) }
    `check` must not change what a later check would decide (it may drop expired data);
    `commit` records the consumption using the state `check` returned.
    reset_us: until the quota is fully restored if nothing else is consumed.
    retry_us: until a request of this cost could pass (0 when allowed).
    CONSUME: whether this call may consume (false on peek), for checks whose report differs.
    ID: the request id naming sliding-window log entries (ARGV[2] in the scripts that carry one;
      '' on a peek, which records nothing).
    A fragment may also answer a call itself before defining anything (return its reply early,
    as the fixed-window fast path at the top of include/fixed-window.lua does): it then decides
    and records exactly as its check + commit would, and replies as include/check-policies.lua.
]]
local COST = tonumber(ARGV[1])
local CONSUME = COST > 0
if not CONSUME then COST = -COST end
local NOW = tonumber(ARGV[FIRST + STRIDE * #KEYS])
if NOW == nil then
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local ALGO = {}
