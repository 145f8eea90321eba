--[[
  Rate-limit check whose policies all use the token bucket (one of the five per-algorithm
  scripts: each carries only its own algorithm and the arguments it uses, so the common
  single-algorithm call stays small).

  KEYS[i]  counter key of policy i (all keys share one hash tag)
  ARGV     ARGV[1] signed cost (n consume, -n peek); per policy i: limit, window (ms), burst;
           then optionally the current time (us). See include/prelude.lua.
  Returns  { now_us, then per policy: allowed, remaining, reset_ms, retry_ms }
]]
local FIRST, STRIDE, CODE, ID = 2, 3, 4, nil
--! include include/prelude.lua
--! include include/token-bucket.lua
--! include include/check-policies.lua
