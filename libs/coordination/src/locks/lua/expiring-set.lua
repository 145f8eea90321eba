--[[
  Shared include: a zset whose members each carry their own expiry as score (server ms): the
  permits of a semaphore, the readers of a read-write lock. The key lives as long as its
  latest member, so a crashed holder's member goes away by itself.

  Expired members are dropped when a member is put (after adding it, so that the drop never
  empties the set), or by a purge that is the script's last command on the key: a command
  that may remove a key must come last during a cluster slot migration (see queue.lua). Counts
  and expiries read the live members only, so a dead member still stored counts for nothing.

  Functions:
    expiring_set_purge(key, now)                     drops the expired members (may remove the key)
    expiring_set_put(key, member, now, ttl)          adds or refreshes a member for `ttl` ms (> 0)
    expiring_set_extend(key, member, now, ttl) -> true when refreshed, false when the member
      has expired (or is absent); nothing changes then
    expiring_set_live(key, member, now) -> true when `member` is in the set and alive
    expiring_set_count(key, now) -> how many members are alive
    expiring_set_first_expiry(key, now) -> ms until the earliest live member expires, nil when none
]]
local function expiring_set_purge(key, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
end

local function expiring_set_put(key, member, now, ttl)
  redis.call('ZADD', key, now + ttl, member)
  expiring_set_purge(key, now)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', key, math.max(1, tonumber(last[2]) - now))
end

local function expiring_set_live(key, member, now)
  local score = redis.call('ZSCORE', key, member)
  return score and tonumber(score) > now or false
end

local function expiring_set_extend(key, member, now, ttl)
  if not expiring_set_live(key, member, now) then return false end
  expiring_set_put(key, member, now, ttl)
  return true
end

local function expiring_set_count(key, now)
  return redis.call('ZCOUNT', key, '(' .. string.format('%.0f', now), '+inf')
end

local function expiring_set_first_expiry(key, now)
  local first = redis.call('ZRANGEBYSCORE', key, '(' .. string.format('%.0f', now), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if first[2] then return tonumber(first[2]) - now end
  return nil
end
