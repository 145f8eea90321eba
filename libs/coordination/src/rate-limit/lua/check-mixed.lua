--[[
  Rate-limit check whose policies mix algorithms: carries all five.

  KEYS[i]  counter key of policy i (all keys share one hash tag)
  ARGV     mode ('1' consume / '0' peek), cost, request id, then per policy: algorithm code,
           limit, window (ms), burst; then optionally the current time (us). See include/check-policies.lua.
  Returns  { now_us, all_allowed, then per policy: allowed, remaining, reset_ms, retry_ms }
]]
--! include include/prelude.lua
--! include include/sliding-window.lua
--! include include/sliding-window-approx.lua
--! include include/fixed-window.lua
--! include include/token-bucket.lua
--! include include/gcra.lua
--! include include/check-policies.lua
