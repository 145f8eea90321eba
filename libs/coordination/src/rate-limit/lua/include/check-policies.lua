--[[
  Include: the body of every check script (see check-*.lua). Checks one or more rate-limit
  policies atomically and consumes from all of them only if every one allows: a request
  denied by one policy consumes nothing from the others.
  Time is the Redis server's (TIME), so instances with skewed clocks agree, unless the caller
  passes its own (only when the application injected a clock, e.g. a ManualClock in tests).

  KEYS[i]  counter key of policy i (all keys share one hash tag)
  ARGV[1]  mode: '1' consume, '0' peek (check only)
  ARGV[2]  cost (integer >= 1)
  ARGV[3]  request id (unique per call; names sliding-window log entries)
  ARGV[3 + 4(i-1) + 1..4]  policy i: algorithm code (1-5), limit, window (ms), burst
  ARGV[3 + 4n + 1]  optional (n = #KEYS): current time (us, integer); absent means TIME

  Returns { now_us, all_allowed, then per policy: allowed, remaining, reset_ms, retry_ms }
    reset_ms: until the policy's quota is fully restored; retry_ms: until this cost fits (0 if allowed).
]]
-- Optional trailing argument, so the production call (server time) carries nothing extra.
-- Microseconds, not the shared server_time_ms() (lua/server-time.lua): the exact sliding
-- window orders admissions within a millisecond, and the memory store decides in us alike.
local now = tonumber(ARGV[4 + 4 * #KEYS])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local consume = ARGV[1] == '1'
local cost = tonumber(ARGV[2])

-- One policy (the hot path): no bookkeeping for a second phase.
if #KEYS == 1 then
  local algo = ALGO[tonumber(ARGV[4])]
  local limit, window, burst = tonumber(ARGV[5]), tonumber(ARGV[6]) * 1000, tonumber(ARGV[7])
  local allowed, remaining, reset, retry, s1, s2, s3
  if consume and algo.consume then
    allowed, remaining, reset, retry = algo.consume(KEYS[1], now, limit, window, burst, cost, ARGV[3])
  else
    allowed, remaining, reset, retry, s1, s2, s3 = algo.check(KEYS[1], now, limit, window, burst, cost)
    if consume and allowed == 1 then algo.commit(KEYS[1], now, window, cost, ARGV[3], s1, s2, s3, limit, burst) end
  end
  return { now, allowed, allowed, remaining, math.ceil(reset / 1000), math.ceil(retry / 1000) }
end

local out = { now, 1 }
local pending = {}
for i = 1, #KEYS do
  local base = 3 + (i - 1) * 4
  local algo = ALGO[tonumber(ARGV[base + 1])]
  local limit, window, burst = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3]) * 1000, tonumber(ARGV[base + 4])
  local allowed, remaining, reset, retry, s1, s2, s3 = algo.check(KEYS[i], now, limit, window, burst, cost)
  if allowed == 0 then out[2] = 0 end
  local o = 3 + (i - 1) * 4
  out[o], out[o + 1], out[o + 2], out[o + 3] = allowed, remaining, math.ceil(reset / 1000), math.ceil(retry / 1000)
  pending[i] = { algo, window, s1, s2, s3, limit, burst }
end
if consume and out[2] == 1 then
  for i = 1, #KEYS do
    local p = pending[i]
    p[1].commit(KEYS[i], now, p[2], cost, ARGV[3], p[3], p[4], p[5], p[6], p[7])
  end
end
return out
