--[[
  ALGO[2]: approximate sliding window (two counters: this fixed window and the previous).
  Key: HASH { w = index of the current window, c = count in it, p = count in the previous }.
  Estimate = p * (share of the previous window still inside the sliding window) + c.
]]
local function swa_roll(key, now, window)
  local idx = math.floor(now / window)
  local v = redis.call('HMGET', key, 'w', 'c', 'p')
  local w, c, p = tonumber(v[1]), tonumber(v[2]) or 0, tonumber(v[3]) or 0
  if w == nil or w < idx - 1 then
    c, p = 0, 0
  elseif w == idx - 1 then
    p, c = c, 0
  end
  return idx, c, p
end

ALGO[2] = {
  check = function(key, now, limit, window, burst, cost)
    local idx, c, p = swa_roll(key, now, window)
    local start = idx * window
    local estimate = p * (window - (now - start)) / window + c
    if estimate + cost <= limit then
      return 1, math.floor(limit - estimate - cost), start + 2 * window - now, 0, idx, c, p
    end
    local reset
    if c > 0 then reset = start + 2 * window - now elseif p > 0 then reset = start + window - now else reset = 0 end
    local retry
    if c + cost > limit then
      -- Only in the next window, once this window's count (then the previous) has decayed enough.
      retry = start + window + window * (1 - (limit - cost) / c) - now
    else
      retry = start + window - window * (limit - c - cost) / p - now
    end
    local remaining = math.floor(limit - estimate)
    if remaining < 0 then remaining = 0 end
    return 0, remaining, reset, retry, idx, c, p
  end,
  commit = function(key, now, window, cost, member, idx, c, p)
    redis.call('HSET', key, 'w', idx, 'c', c + cost, 'p', p)
    redis.call('PEXPIRE', key, math.ceil(2 * window / 1000))
  end,
}
