--[[
  Rate-limit check whose policies all use the fixed window (one of the five per-algorithm
  scripts: each carries only its own algorithm and the arguments it uses, so the common
  single-algorithm call stays small).

  KEYS[i]  counter key of policy i (all keys share one hash tag)
  ARGV     ARGV[1] signed cost (n consume, -n peek); per policy i: limit, window (ms);
           then optionally the current time (us). See include/prelude.lua.
  Returns  { now_us, then per policy: allowed, remaining, reset_ms, retry_ms }
]]
local FIRST, STRIDE, CODE, ID = 2, 2, 3, nil
--! include include/prelude.lua
--! include include/fixed-window.lua
--! include include/check-policies.lua
