--[[
  Include: the body of every check script (see check-*.lua and include/prelude.lua for the
  arguments). Checks one or more rate-limit policies atomically and consumes from all of them
  only if every one allows: a request denied by one policy consumes nothing from the others.
  Time is the Redis server's (TIME), so instances with skewed clocks agree, unless the caller
  passes its own (only when the application injected a clock, e.g. a ManualClock in tests).

  Returns { now_us, then per policy: allowed, remaining, reset_ms, retry_ms }; the check is
    allowed when every policy is. reset_ms: until the policy's quota is fully restored;
    retry_ms: until this cost fits (0 if allowed).
]]

-- One policy: no bookkeeping for a second phase. (A single-policy fixed-window consume never
-- gets here: the fast path at the top of include/fixed-window.lua answers it in one write.)
if #KEYS == 1 then
  local o, code = FIRST, CODE
  if code == nil then code, o = tonumber(ARGV[o]), o + 1 end
  local limit, window = tonumber(ARGV[o]), tonumber(ARGV[o + 1]) * 1000
  local burst = limit
  if code >= 4 then burst = tonumber(ARGV[o + 2]) or limit end
  local algo = ALGO[code]
  local allowed, remaining, reset, retry, s1, s2, s3 = algo.check(KEYS[1], NOW, limit, window, burst, COST)
  if CONSUME and allowed == 1 then algo.commit(KEYS[1], NOW, window, COST, ID, s1, s2, s3, limit, burst) end
  return { NOW, allowed, remaining, math.ceil(reset / 1000), math.ceil(retry / 1000) }
end

local out = { NOW }
local pending = {}
local all = 1
for i = 1, #KEYS do
  local o, code = FIRST + (i - 1) * STRIDE, CODE
  if code == nil then code, o = tonumber(ARGV[o]), o + 1 end
  local limit, window = tonumber(ARGV[o]), tonumber(ARGV[o + 1]) * 1000
  local burst = limit
  if code >= 4 then burst = tonumber(ARGV[o + 2]) or limit end
  local algo = ALGO[code]
  local allowed, remaining, reset, retry, s1, s2, s3 = algo.check(KEYS[i], NOW, limit, window, burst, COST)
  if allowed == 0 then all = 0 end
  local r = 2 + (i - 1) * 4
  out[r], out[r + 1], out[r + 2], out[r + 3] = allowed, remaining, math.ceil(reset / 1000), math.ceil(retry / 1000)
  pending[i] = { algo, window, s1, s2, s3, limit, burst }
end
if CONSUME and all == 1 then
  for i = 1, #KEYS do
    local p = pending[i]
    p[1].commit(KEYS[i], NOW, p[2], COST, ID, p[3], p[4], p[5], p[6], p[7])
  end
end
return out
