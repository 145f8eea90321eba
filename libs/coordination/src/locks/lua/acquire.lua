--[[
  Acquire a mutex, or join / poll its wait queue.

  Input:
    KEYS[1] lock        hash { t = owner token, o = owner id, n = hold count, f = fencing token }, PX = ttl
    KEYS[2] fence       counter, never expires: fencing tokens stay strictly increasing per lock
    KEYS[3] queue       zset of waiters "token|ttlMs|owner", score = -priority * 2^32 + arrival sequence
    KEYS[4] queue-exp   zset of the same members, score = lease expiry (server ms); crashed waiters drop out
    KEYS[5] queue-seq   arrival counter of the queue
    ARGV[1] token       ARGV[2] owner      ARGV[3] ttlMs
    ARGV[4] reentrant   "1" lets the current owner take the lock again (hold count + 1)
    ARGV[5] enqueue     "1" joins (or stays in) the wait queue when the lock cannot be taken now
    ARGV[6] priority    integer, higher is served first
    ARGV[7] leaseMs     how long a queue entry lives without being refreshed
    ARGV[8] eventChannel  optional: when acquired, PUBLISH ARGV[9] .. fencingToken .. '}}' there (the
    ARGV[9] eventHead     lock.acquired event, an EventBus envelope whose payload ends with "fencingToken":)

  Output:
    { 1, token, fencingToken, pttlMs, reentered(0|1) }  acquired (also when handed off to this waiter)
    { 0, holderOwner, pttlMs, queuePosition }            not acquired; pttl -1 when the lock is free but
                                                          earlier waiters are ahead; position -1 when not queued
]]
local lockKey, fenceKey, queueKey, qexpKey, seqKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local token, owner, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])

local function acquired(fence, pttl, reentered)
  if ARGV[8] then redis.call('PUBLISH', ARGV[8], ARGV[9] .. fence .. '}}') end
  return { 1, token, fence, pttl, reentered }
end

-- Fast path (uncontended): free and nobody queued. HMGET before EXISTS: a held lock is the
-- common contended case and needs the holder anyway.
local holder = redis.call('HMGET', lockKey, 't', 'o', 'f')
local queued = redis.call('EXISTS', qexpKey) == 1
if not holder[1] and not queued then
  local fence = redis.call('INCR', fenceKey)
  redis.call('HSET', lockKey, 't', token, 'o', owner, 'n', 1, 'f', fence)
  redis.call('PEXPIRE', lockKey, ttl)
  return acquired(fence, ttl, 0)
end

local reentrant, enqueue = ARGV[4] == '1', ARGV[5] == '1'
local priority, lease = tonumber(ARGV[6]), tonumber(ARGV[7])
local member -- built only when the queue is involved

local nowMs
local function now()
  if not nowMs then
    local t = redis.call('TIME')
    nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return nowMs
end

if queued then
  local expired = redis.call('ZRANGEBYSCORE', qexpKey, '-inf', now())
  if #expired > 0 then
    for i = 1, #expired do redis.call('ZREM', queueKey, expired[i]) end
    redis.call('ZREMRANGEBYSCORE', qexpKey, '-inf', now())
    if redis.call('ZCARD', queueKey) == 0 then
      redis.call('DEL', queueKey, qexpKey, seqKey)
      queued = false
    end
  end
end

local function leaveQueue()
  if not queued then return end
  member = member or (token .. '|' .. ARGV[3] .. '|' .. owner)
  if redis.call('ZREM', queueKey, member) == 1 then
    redis.call('ZREM', qexpKey, member)
    if redis.call('ZCARD', queueKey) == 0 then redis.call('DEL', queueKey, qexpKey, seqKey) end
  end
end

local function join()
  member = member or (token .. '|' .. ARGV[3] .. '|' .. owner)
  if not redis.call('ZSCORE', queueKey, member) then
    local seq = redis.call('INCR', seqKey)
    redis.call('ZADD', queueKey, -priority * 4294967296 + seq, member)
  end
  redis.call('ZADD', qexpKey, now() + lease, member)
  for _, key in ipairs({ queueKey, qexpKey, seqKey }) do
    if redis.call('PTTL', key) < lease then redis.call('PEXPIRE', key, lease) end
  end
  queued = true
  return redis.call('ZRANK', queueKey, member)
end

if holder[1] then
  if holder[1] == token then
    -- The previous holder handed the lock to this waiter on release.
    leaveQueue()
    return acquired(tonumber(holder[3]), redis.call('PTTL', lockKey), 0)
  end
  if reentrant and holder[2] == owner then
    redis.call('HINCRBY', lockKey, 'n', 1)
    if redis.call('PTTL', lockKey) < ttl then redis.call('PEXPIRE', lockKey, ttl) end
    leaveQueue()
    token = holder[1]
    return acquired(tonumber(holder[3]), redis.call('PTTL', lockKey), 1)
  end
  local position = -1
  if enqueue then position = join() end
  return { 0, holder[2], redis.call('PTTL', lockKey), position }
end

if queued then
  -- Free, but waiters are queued: only the head may take it.
  if not enqueue then return { 0, '', -1, -1 } end
  local position = join()
  if position > 0 then return { 0, '', -1, position } end
  leaveQueue()
end

local fence = redis.call('INCR', fenceKey)
redis.call('HSET', lockKey, 't', token, 'o', owner, 'n', 1, 'f', fence)
redis.call('PEXPIRE', lockKey, ttl)
return acquired(fence, ttl, 0)
