--[[
  Shared include: the wait queue of a mutex and the formats it shares with TypeScript
  (locks/queue-codec.ts holds the same two formats; a store contract test checks they agree).

  Keys of a queue (all with the lock's hash tag):
    queueKey  zset of entries, score = -priority * 2^32 + arrival sequence (lowest first)
    qexpKey   zset of the same entries, score = lease expiry (server ms); crashed waiters drop out
    seqKey    arrival counter
  Entry: "token|ttlMs|owner" (the owner last: it may contain '|').
  Hand-off message, PUBLISHed on the lock's channel: "g|token|fencingToken|ttlMs".

  Functions:
    queue_entry(token, ttl, owner) -> entry            queue_entry_parse(entry) -> token, ttl, owner
    hand_off_message(token, fence, ttl) -> message
    queue_purge_expired(queueKey, qexpKey, seqKey, now) -> false when that emptied the queue
      (its keys are then deleted), else true
    queue_remove(queueKey, qexpKey, seqKey, entry)     drops an entry; deletes the keys once empty
    queue_refresh(queueKey, qexpKey, seqKey, entry, now, lease)
      sets the entry's lease expiry and keeps every queue key alive at least `lease` ms
    queue_join(queueKey, qexpKey, seqKey, entry, priority, now, lease) -> 0-based position
      adds the entry (keeping its place when already queued) and refreshes its lease
]]
local function queue_entry(token, ttl, owner)
  return token .. '|' .. ttl .. '|' .. owner
end

local function queue_entry_parse(entry)
  local a = string.find(entry, '|', 1, true)
  local b = string.find(entry, '|', a + 1, true)
  return string.sub(entry, 1, a - 1), string.sub(entry, a + 1, b - 1), string.sub(entry, b + 1)
end

local function hand_off_message(token, fence, ttl)
  return 'g|' .. token .. '|' .. fence .. '|' .. ttl
end

local function queue_purge_expired(queueKey, qexpKey, seqKey, now)
  local expired = redis.call('ZRANGEBYSCORE', qexpKey, '-inf', now)
  if #expired == 0 then return true end
  for i = 1, #expired do redis.call('ZREM', queueKey, expired[i]) end
  redis.call('ZREMRANGEBYSCORE', qexpKey, '-inf', now)
  if redis.call('ZCARD', queueKey) > 0 then return true end
  redis.call('DEL', queueKey, qexpKey, seqKey)
  return false
end

local function queue_remove(queueKey, qexpKey, seqKey, entry)
  redis.call('ZREM', queueKey, entry)
  redis.call('ZREM', qexpKey, entry)
  if redis.call('ZCARD', queueKey) == 0 then redis.call('DEL', queueKey, qexpKey, seqKey) end
end

local function queue_refresh(queueKey, qexpKey, seqKey, entry, now, lease)
  redis.call('ZADD', qexpKey, now + lease, entry)
  for _, key in ipairs({ queueKey, qexpKey, seqKey }) do
    if redis.call('PTTL', key) < lease then redis.call('PEXPIRE', key, lease) end
  end
end

local function queue_join(queueKey, qexpKey, seqKey, entry, priority, now, lease)
  if not redis.call('ZSCORE', queueKey, entry) then
    local seq = redis.call('INCR', seqKey)
    redis.call('ZADD', queueKey, -priority * 4294967296 + seq, entry)
  end
  queue_refresh(queueKey, qexpKey, seqKey, entry, now, lease)
  return redis.call('ZRANK', queueKey, entry)
end
