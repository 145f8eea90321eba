--[[
  Appends violations to a tenant's capped log and counts them per key for alerts.

  KEYS[1]  violation log (LIST, newest first)
  KEYS[2]  alert counters of the current alert window (HASH: _w = window index, <key> = count)
  ARGV[1]  max log length
  ARGV[2]  alert threshold (violations of one key within one alert window)
  ARGV[3]  alert window (ms), aligned to multiples of itself on the clock below
  ARGV[4]  current time (ms), or '' to use the Redis clock (TIME); see include/check-policies.lua
  ARGV[5]  log retention (ms): the log expires this long after its last append
  ARGV[6..] pairs: key, encoded violation

  Returns a flat list { key, count, ... } of keys whose count reached the threshold in this
  call: exactly one caller sees each crossing, so exactly one alert fires per key and window.
]]
--! include ../../lua/server-time.lua
local now_ms = tonumber(ARGV[4]) or server_time_ms()
local max_len = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local retention = tonumber(ARGV[5])
local idx = math.floor(now_ms / window)
if tonumber(redis.call('HGET', KEYS[2], '_w')) ~= idx then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], '_w', idx)
  redis.call('PEXPIRE', KEYS[2], (idx + 1) * window - now_ms + 1000)
end
local crossed = {}
for i = 6, #ARGV, 2 do
  redis.call('LPUSH', KEYS[1], ARGV[i + 1])
  local n = redis.call('HINCRBY', KEYS[2], 'k:' .. ARGV[i], 1)
  if n == threshold then
    crossed[#crossed + 1] = ARGV[i]
    crossed[#crossed + 1] = n
  end
end
redis.call('LTRIM', KEYS[1], 0, max_len - 1)
redis.call('PEXPIRE', KEYS[1], retention)
return crossed
