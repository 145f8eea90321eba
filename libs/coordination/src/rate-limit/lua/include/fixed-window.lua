--[[
  ALGO[3]: fixed window aligned to multiples of `window` on the Redis clock.
  Key: HASH { <window index> = count }. Naming the field by the window index means one
  HINCRBY both reads and counts, and a field of an earlier window (kept by a key that
  outlives its window by a ms or two) is simply never read.
]]
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
  -- Single-policy consume in one write on the hot path: count first, take it back if over.
  consume = function(key, now, limit, window, burst, cost)
    local idx = math.floor(now / window)
    local c = redis.call('HINCRBY', key, idx, cost)
    local reset = (idx + 1) * window - now
    if c > limit then
      if c == cost then redis.call('HDEL', key, idx) else redis.call('HINCRBY', key, idx, -cost) end
      return 0, limit - (c - cost), reset, reset
    end
    if c == cost then fw_reset(key, idx, cost, window, now) end
    return 1, limit - c, reset, 0
  end,
}
