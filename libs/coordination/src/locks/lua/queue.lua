--[[
  Shared include: the wait queue of a mutex and the formats it shares with TypeScript
  (locks/queue-codec.ts holds the same formats; a store contract test checks they agree).

  Keys of a queue (all with the lock's hash tag):
    queueKey  zset of entries, score = -priority * 2^32 + arrival sequence (lowest first)
    qexpKey   zset of the same entries, score = lease expiry (server ms); crashed waiters drop out
    seqKey    arrival counter
  Entry: "token|ttlMs|owner" (the owner last: it may contain '|').

  Messages, PUBLISHed on the lock's channel (named like the lock key). Whatever gives the lock
  to a waiter or moves the head of the queue says so, naming the new head, so that the head
  always knows when the lock it waits for expires and needs no fallback poll:
    hand-off  "g|token|fencingToken|ttlMs|nextHead"   the lock was given to the waiter `token`
              (on release, or taken by polling) for ttlMs; nextHead: the token now at the head
              of the queue, empty when none
    new head  "h|head|pttlMs"   the head of the queue moved (a waiter left, waiters whose
              lease ran out were dropped) to `head`; pttlMs: until the lock expires, < 0 when
              it is free (the head takes it now)

  Functions:
    queue_entry(token, ttl, owner) -> entry            queue_entry_parse(entry) -> token, ttl, owner
    queue_head(queueKey) -> token of the head entry, or nil
    hand_off_message(token, fence, ttl, nextHead) -> message
    queue_publish_head(queueKey, lockKey, skip)
      announces the head with the lock's pttl, unless the queue is empty or `skip` leads it
    queue_purge_expired(queueKey, qexpKey, seqKey, now) -> alive, headMoved
      drops entries whose lease ran out; alive false when that emptied the queue (its keys are
      then deleted); headMoved true when the head was among them and another entry leads now
    queue_remove(queueKey, qexpKey, seqKey, entry) -> wasHead
      drops an entry (true when it led the queue); deletes the keys once empty
    queue_refresh(queueKey, qexpKey, seqKey, entry, now, lease)
      sets the entry's lease expiry and keeps every queue key alive at least `lease` ms
    queue_join(queueKey, qexpKey, seqKey, entry, priority, now, lease) -> 0-based position
      adds the entry (keeping its place when already queued) and refreshes its lease
]]
--! include ./fence.lua
local function queue_entry(token, ttl, owner)
  return token .. '|' .. ttl .. '|' .. owner
end

local function queue_entry_parse(entry)
  local a = string.find(entry, '|', 1, true)
  local b = string.find(entry, '|', a + 1, true)
  return string.sub(entry, 1, a - 1), string.sub(entry, a + 1, b - 1), string.sub(entry, b + 1)
end

local function queue_head(queueKey)
  local head = redis.call('ZRANGE', queueKey, 0, 0)[1]
  if head then return (queue_entry_parse(head)) end
  return nil
end

local function hand_off_message(token, fence, ttl, nextHead)
  return 'g|' .. token .. '|' .. fence_string(fence) .. '|' .. ttl .. '|' .. (nextHead or '')
end

local function queue_publish_head(queueKey, lockKey, skip)
  local head = queue_head(queueKey)
  if head and head ~= skip then redis.call('PUBLISH', lockKey, 'h|' .. head .. '|' .. redis.call('PTTL', lockKey)) end
end

local function queue_purge_expired(queueKey, qexpKey, seqKey, now)
  local expired = redis.call('ZRANGEBYSCORE', qexpKey, '-inf', now)
  if #expired == 0 then return true, false end
  local head = redis.call('ZRANGE', queueKey, 0, 0)[1]
  for i = 1, #expired do redis.call('ZREM', queueKey, expired[i]) end
  redis.call('ZREMRANGEBYSCORE', qexpKey, '-inf', now)
  local after = redis.call('ZRANGE', queueKey, 0, 0)[1]
  if after then return true, after ~= head end
  redis.call('DEL', queueKey, qexpKey, seqKey)
  return false, false
end

local function queue_remove(queueKey, qexpKey, seqKey, entry)
  local wasHead = redis.call('ZRANK', queueKey, entry) == 0
  redis.call('ZREM', queueKey, entry)
  redis.call('ZREM', qexpKey, entry)
  if redis.call('ZCARD', queueKey) == 0 then redis.call('DEL', queueKey, qexpKey, seqKey) end
  return wasHead
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
