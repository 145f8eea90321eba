--[[
  Remove the members whose session expired from a user's index (the background pruner's pass).
  The index outlives its sessions by a grace (see include/session-index.lua), so a session
  that ended at its absolute expiry is still named here, for the pass to announce.

  Input:
    KEYS[1] index     the user's index
    ARGV[1] prefix    session key prefix of the user's slot (a session is `prefix .. member`)

  Output:
    {expired members removed, live members left (a count)}
]]
--! include ./include/session-index.lua
local live, expired = index_prune(KEYS[1], ARGV[1])
return {expired, #live}
