--[[
  Fairness tags for tasks about to be added to BullMQ, their place in the tenant's index and in its
  waiting set: one step before `Queue.addBulk`.

  Input:
    KEYS[1] fair            hash of the (task name, tenant): `tag` (last tag given)
    KEYS[2] index           zset of the tenant's job ids by enqueue time (same hash tag)
    KEYS[3] waiting         zset of the tenant's waiting, never started job ids, by enqueue order
    KEYS[4] bullWait        BullMQ's wait list of the task name
    KEYS[5] bullPrioritized BullMQ's prioritized zset of the task name
    KEYS[6..] jobKeys       BullMQ's key of each task's job, in the order of the job ids
    ARGV[1] bullIdPrefix    `<tenant>~`: a job id's BullMQ id without the job id
    ARGV[2] nowMs           enqueue time: index scores are nowMs * 1000, or one more than the
                            newest score (unique, increasing: equal times keep the enqueue order)
    ARGV[3] indexCap        newest entries the index keeps
    ARGV[4] ttlMs           TTL of the fair hash
    ARGV[5] tagLimit        highest tag
    ARGV[6] delayed         one character per task: '1' when it is enqueued with a delay, else '0'
    ARGV[7] healGraceMs     age below which a waiting entry is never healed (its addBulk may be pending)
    ARGV[8] claimMs         a job id without a job whose index entry is younger than this is being
                            added by a concurrent call (its addBulk pending): reply -1 (0: never)
    ARGV[9..] jobIds        the tasks' job ids, in order

  Self-healing first: of the oldest 3 waiting entries, those older than healGraceMs whose BullMQ
  job is in neither the wait list nor the prioritized zset are removed (a first-start removal that
  was lost, an add whose addBulk never ran). A job id whose BullMQ job exists (or that came earlier
  in this call) gets no tag: it is not added again. The others get the next tags of the tenant,
  restarting at 1 when its waiting set is empty, take the newest places in the index, and, unless
  delayed, enter the waiting set (a job id BullMQ dropped after it finished is a new task).

  Output:
    one integer per job id: its tag (>= 1), 0 when it exists already, -1 when a concurrent add
    claimed it (the caller reads it back)
]]

local fair, index, waiting, bull_wait, bull_prioritized = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local bull_prefix, now_ms, index_cap, ttl_ms, tag_limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local delayed, heal_before = ARGV[6], (now_ms - tonumber(ARGV[7])) * 1000
local claim_ms = tonumber(ARGV[8])
local claimed_after = (now_ms - claim_ms) * 1000
local oldest = redis.call('ZRANGE', waiting, 0, 2, 'WITHSCORES')
for i = 1, #oldest, 2 do
  local bull_id = bull_prefix .. oldest[i]
  if tonumber(oldest[i + 1]) < heal_before and not redis.call('ZSCORE', bull_prioritized, bull_id)
      and not redis.call('LPOS', bull_wait, bull_id) then
    redis.call('ZREM', waiting, oldest[i])
  end
end
local tag = 0
if redis.call('ZCARD', waiting) > 0 then tag = tonumber(redis.call('HGET', fair, 'tag') or '0') end
local newest = redis.call('ZREVRANGE', index, 0, 0, 'WITHSCORES')[2]
local score = now_ms * 1000
if newest and tonumber(newest) >= score then score = tonumber(newest) + 1 end
local tags, seen, added, entries, waits = {}, {}, 0, {}, {}
for i = 9, #ARGV do
  local id = ARGV[i]
  local claimed = claim_ms > 0 and redis.call('ZSCORE', index, id)
  if seen[id] or redis.call('EXISTS', KEYS[i - 3]) == 1 then
    tags[#tags + 1] = 0
  elseif claimed and tonumber(claimed) >= claimed_after then
    tags[#tags + 1] = -1
  else
    seen[id] = true
    if tag < tag_limit then tag = tag + 1 end
    tags[#tags + 1] = tag
    added = added + 1
    entries[#entries + 1] = score
    entries[#entries + 1] = id
    if string.sub(delayed, i - 8, i - 8) ~= '1' then
      waits[#waits + 1] = score
      waits[#waits + 1] = id
    end
    score = score + 1
  end
end
-- One ZADD per 4000 entries (unpack stays far below Lua's stack limit).
for from = 1, #entries, 8000 do
  redis.call('ZADD', index, unpack(entries, from, math.min(from + 7999, #entries)))
end
for from = 1, #waits, 8000 do
  redis.call('ZADD', waiting, unpack(waits, from, math.min(from + 7999, #waits)))
end
if added > 0 then
  redis.call('HSET', fair, 'tag', tag)
  redis.call('PEXPIRE', fair, ttl_ms)
  redis.call('ZREMRANGEBYRANK', index, 0, -(index_cap + 1))
end
return tags
