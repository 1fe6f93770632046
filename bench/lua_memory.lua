-- bench/lua_memory.lua -- the memory of many breakers, as a game would hold
-- them (one per player, policy:breaker, CountWindow(10)): Lua heap per
-- breaker (engine memory included: it lives in the userdata) and the
-- process's resident memory. `make bench-memory` runs it under lua5.4 (it
-- allocates about 1 GB for the default million breakers).
--   usage: lua5.4 bench/lua_memory.lua [count]
local fluxgate = require("fluxgate")
local core = require("fluxgate.core")

local COUNT = tonumber(arg and arg[1]) or 1000000
local interp = rawget(_G, "jit") and "luajit" or "lua" .. _VERSION:match("%d+%.%d+")

-- VmRSS of this process in bytes (Linux), or nil.
local function rss()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  local kb = text:match("VmRSS:%s*(%d+) kB")
  return kb and tonumber(kb) * 1024
end

local policy = assert(fluxgate.compile("breaker player { window = CountWindow(10) tripper = FailureStreak(5) }"))
local block, handle = core.policy_footprint(policy._ud, 0)
collectgarbage(); collectgarbage()
local heap0, rss0 = collectgarbage("count"), rss()
local keep = {}
for i = 1, COUNT do keep[i] = policy:breaker("player") end
collectgarbage(); collectgarbage()
local heap1, rss1 = collectgarbage("count"), rss()
local per = (heap1 - heap0) * 1024 / COUNT
print(string.format("%s %d CountWindow(10) breakers: Lua heap %.0f B per breaker (engine block %d B + handle %d B + binding, and up to 56 B to start the block on a cache line, %.0f B), total %.0f MB",
                    interp, COUNT, per, block, handle, per - block - handle, (heap1 - heap0) / 1024))
if rss0 and rss1 then
  print(string.format("%s %d CountWindow(10) breakers: RSS %.0f MB (%.0f B per breaker; target <= 1.5 GB for 1M)",
                      interp, COUNT, rss1 / 1048576, (rss1 - rss0) / COUNT))
end
assert(#keep == COUNT)
