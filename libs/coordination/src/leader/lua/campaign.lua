--[[
  A candidate campaigns for a role: takes the lease when it is free (a new term, with a new
  fencing token), renews it when the candidate already holds it (same term, same token), or
  names the holder.

  Input:
    KEYS[1] lease   the role's hash { candidate, instance, token, since }, PEXPIRE = the lease
    KEYS[2] fence   the role's fencing counter (shared include ../../locks/lua/fence.lua)
    ARGV[1] candidate   ARGV[2] instanceId   ARGV[3] leaseMs (integer > 0)

  Output:
    { 1, 0, fencingToken, since, leaseMs }             elected: a new term (since = server ms)
    { 1, 1, fencingToken, since, leaseMs }             the candidate's own term, renewed
    { 0, candidate, instance, fencingToken, since, pttlMs }   another candidate holds the role
  (fencingToken and since are decimal strings.)
]]
--! include ../../locks/lua/fence.lua
--! include ../../lua/server-time.lua
local leaseKey, candidate, leaseMs = KEYS[1], ARGV[1], tonumber(ARGV[3])
local held = redis.call('HMGET', leaseKey, 'candidate', 'instance', 'token', 'since')
if held[1] then
  if held[1] == candidate then
    redis.call('PEXPIRE', leaseKey, leaseMs)
    return { 1, 1, held[3], held[4], leaseMs }
  end
  return { 0, held[1], held[2], held[3], held[4], redis.call('PTTL', leaseKey) }
end
-- Free (never held, resigned or expired): a new term. A hash without `candidate` cannot be
-- left by these scripts; DEL makes sure no stray field survives into the new term.
redis.call('DEL', leaseKey)
local token = fence_string(fence_next(KEYS[2]))
local since = string.format('%.0f', server_time_ms())
redis.call('HSET', leaseKey, 'candidate', candidate, 'instance', ARGV[2], 'token', token, 'since', since)
redis.call('PEXPIRE', leaseKey, leaseMs)
return { 1, 0, token, since, leaseMs }
