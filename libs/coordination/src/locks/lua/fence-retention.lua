--[[
  Shared include: how long a fencing counter lives after it was seeded (7 days, in ms). Its one
  home, included by fence.lua (fence_seed) and mutex-fast-path.lua (the seed written out there),
  which write every seed as SET <digits> PX FENCE_RETENTION_MS. INCR keeps that expiry, so the
  counter of a lock in use is seeded again from the server clock at most once per retention: the
  recovery of a lost counter (see fence.lua), which keeps tokens increasing. A lock name used
  once leaves its counter for at most this long instead of forever. memory-lock.store.ts holds
  the same figure for the memory driver.
]]
local FENCE_RETENTION_MS = 604800000
