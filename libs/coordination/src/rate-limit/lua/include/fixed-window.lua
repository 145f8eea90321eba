--[[
  ALGO[3]: fixed window aligned to multiples of `window` on the Redis clock.
  Key: HASH { <window index> = count }. Naming the field by the window index means one
  HINCRBY both reads and counts, and a field of an earlier window (kept by a key that
  outlives its window by a ms or two) is simply never read.
]]

-- The hot path, answered here before anything else is defined (a Lua function definition is a
-- closure built on every call): a single-policy consume in check-fixed-window.lua, in one write.
-- Count first, take it back if over; decides and records exactly as check + commit below.
if CODE == 3 and CONSUME and #KEYS == 1 then
  local limit, window = tonumber(ARGV[FIRST]), tonumber(ARGV[FIRST + 1]) * 1000
  local idx = math.floor(NOW / window)
  local c = redis.call('HINCRBY', KEYS[1], idx, COST)
  local reset = (idx + 1) * window - NOW
  local reset_ms = math.ceil(reset / 1000)
  if c > limit then
    if c == COST then redis.call('HDEL', KEYS[1], idx) else redis.call('HINCRBY', KEYS[1], idx, -COST) end
    return { NOW, 0, limit - (c - COST), reset_ms, reset_ms }
  end
  if c == COST then
    -- First admission of this window: as fw_reset below.
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], idx, COST)
    redis.call('PEXPIRE', KEYS[1], reset_ms + 1)
  end
  return { NOW, 1, limit - c, reset_ms, 0 }
end

local function fw_reset(key, idx, cost, window, now)
  -- First admission of this window: drop earlier windows' fields and expire with the window.
  redis.call('DEL', key)
  redis.call('HSET', key, idx, cost)
  redis.call('PEXPIRE', key, math.ceil(((idx + 1) * window - now) / 1000) + 1)
end

ALGO[3] = {
  check = function(key, now, limit, window, burst, cost)
    local idx = math.floor(now / window)
    local c = tonumber(redis.call('HGET', key, idx)) or 0
    local reset = (idx + 1) * window - now
    if c + cost <= limit then
      return 1, limit - c - cost, reset, 0, idx, c
    end
    return 0, limit - c, reset, reset, idx, c
  end,
  commit = function(key, now, window, cost, member, idx, c)
    if c == 0 then fw_reset(key, idx, cost, window, now) else redis.call('HINCRBY', key, idx, cost) end
  end,
}
