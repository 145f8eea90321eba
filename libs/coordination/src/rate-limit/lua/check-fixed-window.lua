--[[
  Rate-limit check whose policies all use the fixed window (one of the five per-algorithm
  scripts: each carries only its own algorithm, so the common single-algorithm call stays small).

  KEYS[i]  counter key of policy i (all keys share one hash tag)
  ARGV     mode ('1' consume / '0' peek), cost, request id, then per policy: algorithm code,
           limit, window (ms), burst; then optionally the current time (us). See include/check-policies.lua.
  Returns  { now_us, all_allowed, then per policy: allowed, remaining, reset_ms, retry_ms }
]]
--! include include/prelude.lua
--! include include/fixed-window.lua
--! include include/check-policies.lua
