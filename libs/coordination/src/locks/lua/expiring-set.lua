--[[
  Shared include: a zset whose members each carry their own expiry as score (server ms): the
  permits of a semaphore, the readers of a read-write lock. The key lives as long as its
  latest member, so a crashed holder's member goes away by itself.

  Functions:
    expiring_set_purge(key, now)                     drops the expired members
    expiring_set_put(key, member, now, ttl)          adds or refreshes a member for `ttl` ms
    expiring_set_extend(key, member, now, ttl) -> true when refreshed, false when the member
      has expired (or is absent); nothing changes then
    expiring_set_first_expiry(key, now) -> ms until the earliest member expires
]]
local function expiring_set_purge(key, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
end

local function expiring_set_put(key, member, now, ttl)
  redis.call('ZADD', key, now + ttl, member)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', key, math.max(1, tonumber(last[2]) - now))
end

local function expiring_set_extend(key, member, now, ttl)
  local score = redis.call('ZSCORE', key, member)
  if not score or tonumber(score) <= now then return false end
  expiring_set_put(key, member, now, ttl)
  return true
end

local function expiring_set_first_expiry(key, now)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tonumber(first[2]) - now
end
