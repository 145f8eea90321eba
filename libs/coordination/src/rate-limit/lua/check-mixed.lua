--[[
  Rate-limit check whose policies mix algorithms: carries all five.

  KEYS[i]  counter key of policy i (all keys share one hash tag)
  ARGV     ARGV[1] signed cost (n consume, -n peek); ARGV[2] request id (unique per call; names
           sliding-window log entries; '' on a peek); per policy i: algorithm code (1-5), limit, window (ms),
           burst; then optionally the current time (us). See include/prelude.lua.
  Returns  { now_us, then per policy: allowed, remaining, reset_ms, retry_ms }
]]
local FIRST, STRIDE, CODE, ID = 3, 4, nil, ARGV[2]
--! include include/prelude.lua
--! include include/sliding-window.lua
--! include include/sliding-window-approx.lua
--! include include/fixed-window.lua
--! include include/token-bucket.lua
--! include include/gcra.lua
--! include include/check-policies.lua
