--[[
  The first attempt of a mutex acquisition: the fast path of acquire.lua (shared through
  mutex-fast-path.lua), plus re-entry. Fewer KEYS and ARGV than acquire.lua (each costs bytes on the wire,
  Redis and ioredis work on every call); when this refuses and the caller wants to wait, it runs
  acquire.lua, which joins the queue.

  Input:
    KEYS[1] lock   [KEYS[2] fence   KEYS[3] queue-exp]   (see acquire.lua)
    ARGV[1] token   ARGV[2] owner   ARGV[3] ttlMs
    ARGV[4] reentrant ("1"; optional, absent = not reentrant)
    ARGV[5] eventChannel   ARGV[6] eventHead   optional, as ARGV[8] / ARGV[9] of acquire.lua

  The other keys of a lock are its lock key plus a fixed suffix (locks/lock-keys.ts), in the
  same hash tag. On a cluster the caller declares them (KEYS[2], KEYS[3]): during a slot
  migration Redis checks the declared keys of a script (TRYAGAIN / ASK while some of them have
  moved), which an undeclared key would escape. On a standalone server or Sentinel nothing moves
  keys, so the caller sends only KEYS[1] and the others are derived here: two keys fewer on
  the wire and to parse on the uncontended path (the same script serves both).

  Output:
    fencingToken                         acquired; pttl = ttlMs (an integer reply: cheap to decode)
    { 1, token, fencingToken, pttlMs }   re-entered (token is the holder's)
    { 0, holderOwner, pttlMs }           held by someone else; pttl -1 when free but waiters are queued
]]
local lockKey, token, owner, ttl = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local fenceKey, qexpKey = KEYS[2] or lockKey .. ':fence', KEYS[3] or lockKey .. ':queue-exp'
--! include ./mutex-fast-path.lua
if fastFence and not ARGV[5] then return fastFence end

-- Not taken at once, or an event to publish: the shared functions are built only now.
--! include ./mutex.lua
if fastFence then
  publish_acquired(ARGV[5], ARGV[6], fastFence)
  return fastFence
end
local holder = fastHolder
if not holder[1] then return { 0, '', -1 } end
if ARGV[4] == '1' and holder[2] == owner then
  local pttl = mutex_reenter(lockKey, ttl)
  publish_acquired(ARGV[5], ARGV[6], holder[3])
  return { 1, holder[1], tonumber(holder[3]), pttl }
end
return { 0, holder[2], redis.call('PTTL', lockKey) }
