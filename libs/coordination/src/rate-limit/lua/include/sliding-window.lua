--[[
  ALGO[1]: exact sliding window (a log of admissions in a sorted set).
  Key: ZSET, member = request id (+ '#n' per unit of cost), score = admission time (us).
  The window is (now - window, now]: an entry scored exactly now - window has left it.
  Memory and work are O(limit) per key; cost adds `cost` members (limit is capped at 100000
  for this algorithm, and members are added at most ZADD_CHUNK per ZADD: Lua's unpack fails
  on a few thousand values).
]]
local ZADD_CHUNK = 1000

ALGO[1] = {
  check = function(key, now, limit, window, burst, cost)
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    local count = redis.call('ZCARD', key)
    if count + cost <= limit then
      if CONSUME then return 1, limit - count - cost, window, 0 end
      -- Peek: nothing is added, so the quota is whole again when the newest entry leaves.
      if count == 0 then return 1, limit - count - cost, 0, 0 end
      local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
      return 1, limit - count - cost, tonumber(last[2]) + window - now, 0
    end
    -- The (count + cost - limit)-th oldest entry must leave before this cost fits.
    local need = count + cost - limit
    local entry = redis.call('ZRANGE', key, need - 1, need - 1, 'WITHSCORES')
    local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    local remaining = limit - count
    if remaining < 0 then remaining = 0 end
    return 0, remaining, tonumber(newest[2]) + window - now, tonumber(entry[2]) + window - now
  end,
  commit = function(key, now, window, cost, member)
    if cost == 1 then
      redis.call('ZADD', key, now, member)
    else
      local n = 1
      while n <= cost do
        local args, last = {}, math.min(cost, n + ZADD_CHUNK - 1)
        for m = n, last do
          args[#args + 1] = now
          args[#args + 1] = member .. '#' .. m
        end
        redis.call('ZADD', key, unpack(args))
        n = last + 1
      end
    end
    redis.call('PEXPIRE', key, math.ceil(window / 1000))
  end,
}
