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

  Cluster slot migrations: while the slot of a lock migrates, Redis runs a script only if the node
  has every key the script declares (else TRYAGAIN / ASK: nothing ran), but then stops it, keeping
  what it wrote so far (scripts are not rolled back), at the first command on a key the script
  itself removed: on the source node any command on it, on the target a multi-key command with
  it. So the scripts read what they need first, and a command that may remove a queue key (the
  DEL of an emptied queue, a ZREM that may leave a zset empty) is the script's last command on
  that key: new entries are added before dead ones are dropped, and a queue left with no live
  entry is deleted by one DEL of its three keys rather than emptied entry by entry. A lock key is
  rewritten in place on a hand-off, never deleted and created again. A script that fails during
  a migration has therefore written nothing.

  Functions:
    queue_entry(token, ttl, owner) -> entry            queue_entry_parse(entry) -> token, ttl, owner
    hand_off_message(token, fence, ttl, nextHead) -> message
    queue_announce(lockKey, entry)
      the new-head message naming `entry`, with the lock's pttl
    queue_read(queueKey, qexpKey, seqKey, now) -> q        (reads only)
      q.first: the entry leading the queue now (nil when empty); q.dead: the entries whose lease
      ran out by `now` (a list), q.isDead: the same as a set
    queue_live(q, skip, n) -> the first `n` (at most) live entries, in queue order, other than `skip`
    queue_drop(q, leaving, keep, empty)
      the script's last command on the queue keys: drops the dead entries (but `keep`, refreshed
      meanwhile) and the entry `leaving`; deletes the queue instead when `empty` (no live entry
      stays: the caller knows from queue_live)
    queue_leave(queueKey, qexpKey, seqKey, entry, nextHead)
      takes `entry` out, or deletes the queue when no `nextHead` follows it (without reading q)
    queue_refresh(queueKey, qexpKey, seqKey, entry, now, lease)
      sets the entry's lease expiry and keeps every queue key alive at least `lease` ms
    queue_add(q, lockKey, entry, priority, lease) -> 0-based position among live entries
      adds the entry (keeping its place when queued and alive), refreshes its lease, then drops
      the dead entries (never emptying the queue: the entry stays; q has no dead entries after
      it); tells a new head, unless it is the entry itself
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

local function hand_off_message(token, fence, ttl, nextHead)
  return 'g|' .. token .. '|' .. fence_string(fence) .. '|' .. ttl .. '|' .. (nextHead or '')
end

local function queue_announce(lockKey, entry)
  redis.call('PUBLISH', lockKey, 'h|' .. (queue_entry_parse(entry)) .. '|' .. redis.call('PTTL', lockKey))
end

local function queue_read(queueKey, qexpKey, seqKey, now)
  local dead = redis.call('ZRANGEBYSCORE', qexpKey, '-inf', now)
  local isDead = {}
  for i = 1, #dead do isDead[dead[i]] = true end
  return {
    key = queueKey, exp = qexpKey, seq = seqKey, now = now,
    first = redis.call('ZRANGE', queueKey, 0, 0)[1], dead = dead, isDead = isDead,
  }
end

local function queue_live(q, skip, n)
  local live = {}
  local want = #q.dead + n + (skip and 1 or 0)
  for _, entry in ipairs(redis.call('ZRANGE', q.key, 0, want - 1)) do
    if not q.isDead[entry] and entry ~= skip then
      live[#live + 1] = entry
      if #live == n then break end
    end
  end
  return live
end

local function queue_drop(q, leaving, keep, empty)
  if empty then
    redis.call('DEL', q.key, q.exp, q.seq)
    return
  end
  -- A live entry stays in both zsets: none of these empties one, except the last command on q.exp
  -- in a queue whose zsets disagree (then nothing touches q.exp after it).
  for _, entry in ipairs(q.dead) do
    if entry ~= keep then redis.call('ZREM', q.key, entry) end
  end
  if leaving then
    redis.call('ZREM', q.key, leaving)
    redis.call('ZREM', q.exp, leaving)
  end
  if #q.dead > 0 then redis.call('ZREMRANGEBYSCORE', q.exp, '-inf', q.now) end
end

-- Takes `entry` out of the queue; when no other entry follows it (`nextHead` nil), deletes the
-- queue's three keys with one DEL instead, as the script's last command on them.
local function queue_leave(queueKey, qexpKey, seqKey, entry, nextHead)
  if nextHead then
    redis.call('ZREM', queueKey, entry)
    redis.call('ZREM', qexpKey, entry)
  else
    redis.call('DEL', queueKey, qexpKey, seqKey)
  end
end

local function queue_refresh(queueKey, qexpKey, seqKey, entry, now, lease)
  redis.call('ZADD', qexpKey, now + lease, entry)
  for _, key in ipairs({ queueKey, qexpKey, seqKey }) do
    if redis.call('PTTL', key) < lease then redis.call('PEXPIRE', key, lease) end
  end
end

local function queue_add(q, lockKey, entry, priority, lease)
  if q.isDead[entry] or not redis.call('ZSCORE', q.key, entry) then
    local seq = redis.call('INCR', q.seq)
    redis.call('ZADD', q.key, -priority * 4294967296 + seq, entry)
  end
  queue_refresh(q.key, q.exp, q.seq, entry, q.now, lease)
  queue_drop(q, nil, entry, false)
  q.dead, q.isDead = {}, {}
  local head = redis.call('ZRANGE', q.key, 0, 0)[1]
  if head ~= q.first and head ~= entry then queue_announce(lockKey, head) end
  q.first = head
  return redis.call('ZRANK', q.key, entry)
end
