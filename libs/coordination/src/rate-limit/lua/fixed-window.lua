--[[
  ALGO[3]: fixed window aligned to multiples of `window` on the Redis clock.
  Key: HASH { w = window index, c = count }. A stale index counts as zero, so a key that
  outlives its window by a few ms (lazy expiry) is still read correctly.
]]
ALGO[3] = {
  check = function(key, now, limit, window, burst, cost)
    local idx = math.floor(now / window)
    local v = redis.call('HMGET', key, 'w', 'c')
    local c = 0
    if tonumber(v[1]) == idx then c = tonumber(v[2]) end
    local reset = (idx + 1) * window - now
    if c + cost <= limit then
      return 1, limit - c - cost, reset, 0, idx, c
    end
    return 0, limit - c, reset, reset, idx, c
  end,
  commit = function(key, now, window, cost, member, idx, c)
    if c == 0 then
      redis.call('HSET', key, 'w', idx, 'c', cost)
      redis.call('PEXPIRE', key, math.ceil(((idx + 1) * window - now) / 1000) + 1)
    else
      redis.call('HINCRBY', key, 'c', cost)
    end
  end,
}
