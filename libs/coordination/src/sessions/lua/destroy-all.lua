--[[
  Destroy every session of a user but one (log out everywhere else), after pruning the index.

  Input:
    KEYS[1] index     the user's index
    ARGV[1] prefix    session key prefix of the user's slot (a session is `prefix .. member`)
    ARGV[2] except    the member to keep, '' for none

  Output:
    {destroyed members, expired members}    `except` is in neither
]]
--! include ./include/session-index.lua
local index, prefix, except = KEYS[1], ARGV[1], ARGV[2]
local live, expired = index_prune(index, prefix)
local destroyed = {}
for _, member in ipairs(live) do
  if member ~= except then
    destroyed[#destroyed + 1] = member
    redis.call('DEL', prefix .. member)
    redis.call('ZREM', index, member)
  end
end
return {destroyed, expired}
