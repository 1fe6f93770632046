-- bench/lua_family_bench.lua -- families from Lua: the time to make a key,
-- the memory a key takes (what collectgarbage sees, and the engine's bytes
-- outside the Lua heap), a call on an existing key against cb:call, and
-- fluxgate.prometheus() with many keys in families against many plain
-- breakers of one name. Times are best of a few rounds beside baselines of
-- the same run. `make bench-lua` runs it at 100k keys on lua5.4 and luajit;
-- `make bench-memory` at 1M keys on lua5.4.
--   usage: lua5.4 bench/lua_family_bench.lua [keys] [plain breakers]
local fluxgate = require("fluxgate")

local KEYS = tonumber(arg and arg[1]) or 100000
local PLAIN = tonumber(arg and arg[2]) or 100000
local interp = rawget(_G, "jit") and "luajit" or "lua" .. _VERSION:match("%d+%.%d+")
local timer = os.clock

local function rss()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local kb = f:read("*a"):match("VmRSS:%s*(%d+) kB")
  f:close()
  return kb and tonumber(kb) * 1024
end

local function best(rounds, fn)
  local b = math.huge
  for _ = 1, rounds do
    local t0 = timer()
    fn()
    local dt = timer() - t0
    if dt < b then b = dt end
  end
  return b
end

local policy = assert(fluxgate.compile("breaker player { window = CountWindow(10) tripper = FailureStreak(5) }"))

-- Making keys: integer keys (their decimal text), each a first use.
collectgarbage(); collectgarbage()
local heap0, rss0 = collectgarbage("count"), rss()
local fam = assert(policy:family("player"))
local bytes0 = fam:stats().bytes
local ok = function() return true end
local t0 = timer()
for i = 1, KEYS do fam:call(i, ok) end
local make_s = timer() - t0
collectgarbage(); collectgarbage()
local heap1, rss1 = collectgarbage("count"), rss()
local s = fam:stats()
local engine_per = (s.bytes - bytes0) / KEYS

-- The baseline: as many plain breakers, policy:breaker, kept in an array.
local keep = {}
collectgarbage(); collectgarbage()
local bheap0 = collectgarbage("count")
t0 = timer()
for i = 1, PLAIN do keep[i] = policy:breaker("player") end
local plain_s = timer() - t0
collectgarbage(); collectgarbage()
local bheap1 = collectgarbage("count")

print(string.format("%s family key creation (%d keys, first fam:call each): %.0f ns/key  policy:breaker %.0f ns/breaker  ratio %.2f",
                    interp, KEYS, make_s / KEYS * 1e9, plain_s / PLAIN * 1e9, (make_s / KEYS) / (plain_s / PLAIN)))
print(string.format("%s family memory per key (%d keys): Lua heap %.1f B (collectgarbage sees only this)  engine %.0f B outside the heap (key_footprint %d B + key bytes + table)%s  plain breaker: Lua heap %.0f B",
                    interp, KEYS, (heap1 - heap0) * 1024 / KEYS, engine_per, s.key_footprint,
                    (rss0 and rss1) and string.format("  RSS %.0f B", (rss1 - rss0) / KEYS) or "",
                    (bheap1 - bheap0) * 1024 / PLAIN))

-- A call on an existing key against cb:call on one breaker.
local N = 1000000
local cb = assert(policy:breaker("player"))
local noop = function() end
local KEYRING = 1024
local names = {}
for i = 1, KEYRING do names[i] = "k" .. i; fam:call(names[i], noop) end
local cb_s = best(5, function() for _ = 1, N do cb:call(noop) end end)
local fam_s = best(5, function() for i = 1, N do fam:call(names[i % KEYRING + 1], noop) end end)
print(string.format("%s fam:call(key, noop) on %d existing keys: %.1f ns  cb:call(noop) %.1f ns  ratio %.2f",
                    interp, KEYRING, fam_s / N * 1e9, cb_s / N * 1e9, fam_s / cb_s))

-- fluxgate.prometheus(): families and plain breakers cost O(names) (plain breakers
-- feed their name's counter sink; only shared breakers are walked).
keep, cb = nil, nil
collectgarbage(); collectgarbage()
local prom_fam = best(3, function() fluxgate.prometheus() end)
fam:close()
collectgarbage(); collectgarbage()
local prom_none = best(3, function() fluxgate.prometheus() end)
keep = {}
for i = 1, PLAIN do keep[i] = assert(policy:breaker("player")) end
local prom_plain = best(3, function() fluxgate.prometheus() end)
print(string.format("%s prometheus(): %d keys in a family %.2f ms (nothing live: %.2f ms)  %d plain breakers of one name %.2f ms (%.2f us/breaker)",
                    interp, KEYS + KEYRING, prom_fam * 1e3, prom_none * 1e3, PLAIN, prom_plain * 1e3,
                    (prom_plain - prom_none) / PLAIN * 1e6))
assert(#keep == PLAIN)
