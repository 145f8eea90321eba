--[[
  A user's live sessions, oldest first, after pruning the expired members of the index.

  Input:
    KEYS[1] index     the user's index
    ARGV[1] prefix    session key prefix of the user's slot (a session is `prefix .. member`)

  Output:
    {live members, their records (one string each, in the same order), expired members}
]]
--! include ./include/session-index.lua
local live, expired = index_prune(KEYS[1], ARGV[1])
local records = {}
for n, member in ipairs(live) do
  records[n] = redis.call('GET', ARGV[1] .. member)
end
return {live, records, expired}
