--[[
  Include: a user's session index and the sessions it names. The index is a sorted set
  (member -> created-at ms); the session of a member is the record `prefix .. member` (one
  string, see session-record.lua), in the index's hash slot by construction (session-keys.ts),
  so a script given the index may touch it. A session's key lives until its idle expiry and
  never past its absolute one (every script sets its expiry at e, e <= x), so a member whose
  key is gone has expired: Redis dropped it. The index lives until the latest absolute expiry
  of its sessions plus a grace (the store's `indexGraceMs`), so a session that ended at its
  absolute expiry is still named when the background pruner comes by to announce it.
]]

-- The members of `index`, oldest first (ties by member), split into those whose session
-- exists and those whose session is gone. Reads only.
local function index_members(index, prefix)
  local live, expired = {}, {}
  for _, member in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    if redis.call('EXISTS', prefix .. member) == 1 then
      live[#live + 1] = member
    else
      expired[#expired + 1] = member
    end
  end
  return live, expired
end

-- Removes `members` from `index` (one ZREM each: no unpack, whose stack is bounded).
local function index_remove(index, members)
  for _, member in ipairs(members) do
    redis.call('ZREM', index, member)
  end
end

-- The live members of `index`, oldest first, after removing the expired ones; and those.
local function index_prune(index, prefix)
  local live, expired = index_members(index, prefix)
  index_remove(index, expired)
  return live, expired
end

-- Keeps `index` at least until `until_ms` (epoch ms): the absolute expiry of a session it
-- names plus the grace. Lengthens its lifetime, never shortens it. `now` is the script's server time.
local function index_keep_until(index, now, until_ms)
  local pttl = redis.call('PTTL', index)
  if pttl < 0 or now + pttl < until_ms then
    redis.call('PEXPIREAT', index, until_ms)
  end
end
