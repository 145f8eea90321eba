--[[
  Include: prelude of every rate-limit check script. Each check-*.lua includes this, then
  the algorithm fragment(s) it needs (include/<algorithm>.lua), then include/check-policies.lua,
  so the single-algorithm scripts (the hot path) stay small while the mixed script runs the
  exact same code.

  Conventions shared by the algorithm fragments:
    now, window, reset, retry: microseconds (integers for now; may be fractional inside)
    ALGO[code] = { check = function(key, now, limit, window, burst, cost)
                     -> allowed (0|1), remaining, reset_us, retry_us, s1, s2, s3,
                   commit = function(key, now, window, cost, member, s1, s2, s3, limit, burst),
                   consume = optional function(key, now, limit, window, burst, cost, member)
                     -> allowed, remaining, reset_us, retry_us }
    `check` must not change what a later check would decide (it may drop expired data);
    `commit` records the consumption using the state `check` returned.
    `consume`, when present, is check + commit of a single-policy consume fused into fewer
    commands (the hot path); it must decide and record exactly as check + commit would.
    reset_us: until the quota is fully restored if nothing else is consumed.
    retry_us: until a request of this cost could pass (0 when allowed).
    CONSUME: whether this call may consume (false on peek), for checks whose report differs.
]]
local ALGO = {}
local CONSUME = ARGV[1] == '1'
