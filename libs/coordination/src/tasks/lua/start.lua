--[[
  Tasks started for the first time: they no longer count as waiting. Sent by the worker without
  waiting for the reply (auto-pipelined, the starts of one tick and tenant coalesced into one
  call), so it costs no round trip per task.

  Input:
    KEYS[1] fair            hash of the (task name, tenant): `tag`, `n`
    ARGV[1] ttlMs           TTL of the fair hash
    ARGV[2] count           tasks that started

  Output:
    the waiting count after the decrement (never below 0)
]]
--! include include/waiting.lua

return adjust_waiting(KEYS[1], -tonumber(ARGV[2]), tonumber(ARGV[1]))
