--[[
  Shared include: the Redis server's clock in milliseconds (TIME, read at most once per script).
  Scripts call server_time_ms(); a script that may be given the caller's clock passes that
  instead and never calls it, so a ManualClock in tests decides for Redis and memory alike.
]]
local server_time_ms_cached
local function server_time_ms()
  if not server_time_ms_cached then
    local t = redis.call('TIME')
    server_time_ms_cached = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return server_time_ms_cached
end
