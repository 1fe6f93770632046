-- fam:reload(policy [, name]) (SPEC section 10, "Reload" and "Families"):
-- every key of a family switches to another compiled definition keeping its
-- state, counters and timers (keys move on their next use); the window
-- survives an unchanged kind and size and starts empty otherwise; signals
-- after the reload carry the new texts (and their key); Custom() names
-- resolve against the family's own predicates, and the family takes the
-- engine path its new definition needs; a refused reload changes nothing;
-- Prometheus counters never decrease. Runs on every engine path (H.paths).
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

local function compile(src) return assert(fluxgate.compile(src, "family_reload.fgp")) end

local V1 = compile([[
breaker players { window = CountWindow(10) tripper = FailureStreak(3) retry = Cooldown(10s) permit = All() }
]])
local V2 = compile([[
breaker players { window = CountWindow(10) tripper = FailureStreak(2) retry = Cooldown(20s) permit = All() }
breaker resized { window = CountWindow(50) tripper = FailureStreak(2) retry = Cooldown(20s) permit = All() }
breaker guarded { tracker = Custom("teapot") window = CountWindow(10) tripper = FailureStreak(1) }
breaker unknown { tracker = Custom("nobody_registered_this") tripper = FailureStreak(1) }
breaker renamed { window = CountWindow(10) tripper = FailureStreak(2) retry = Cooldown(20s) permit = All() }
]])

local function on_family_ffi(fam)
  local paths = H.engine_paths.family
  return paths.Ffi ~= nil and getmetatable(fam).__index.call == paths.Ffi.call
end

local function fail(fam, key, n)
  for _ = 1, n or 1 do fam:call(key, function() return nil, "boom" end) end
end

local function pass(fam, key, n)
  for _ = 1, n or 1 do fam:call(key, function() return true end) end
end

-- circuit_breaker_calls_total of one name and outcome in fluxgate.prometheus()
local function calls_total(name, outcome)
  local text = fluxgate.prometheus()
  local n = text:match('circuit_breaker_calls_total{circuit_name="' .. name .. '",outcome="' .. outcome .. '"} (%d+)')
  return tonumber(n or 0)
end

for _, use_ffi in ipairs(H.paths()) do
  local function it_(name, fn) it(name .. " (" .. H.path_name(use_ffi) .. ")", function() H.with_path(use_ffi, fn) end) end

  describe("fam:reload", function()
    it_("keeps every key's state, counters, timers and same-sized window; new texts after", function()
      local c = H.clock(100)
      local fam = assert(V1:family("players", { clock = c.fn }))
      local signals = {}
      fam:on_transition(function(s) signals[#signals + 1] = s end)
      fail(fam, "shut", 3) -- FailureStreak(3): open at 100
      assert.are.equal("open", fam:state("shut"))
      pass(fam, "busy", 2)
      fail(fam, "busy", 1)
      local before = fam:info("busy")
      assert.are.equal(1, #signals)

      assert.is_true(fam:reload(V2))
      assert.are.equal("players", fam.name)
      assert.are.equal(2, fam:size())
      local after = fam:info("busy") -- moves the key now
      assert.are.equal("closed", after.state)
      assert.are.equal(before.generation, after.generation)
      assert.are.equal(2, after.counters.success)
      assert.are.equal(1, after.counters.failure)
      assert.are.equal(3, after.metrics.total_count) -- CountWindow(10) both times: kept
      assert.are.equal(1, after.consecutive_failures)
      fail(fam, "busy", 1) -- the second in a row: FailureStreak(2) now
      assert.are.equal("open", fam:state("busy"))
      assert.are.equal(2, #signals)
      assert.are.equal("FailureStreak(2)", signals[2].reason)
      assert.are.equal("busy", signals[2].key)
      assert.are.equal("players", signals[2].breaker)

      -- the open key stays open and waits the new Cooldown(20s) from 100
      assert.are.equal("open", fam:state("shut"))
      c:advance(15)
      local ok, r = fam:call("shut", function() return true end)
      assert.is_nil(ok)
      assert.is_true(fluxgate.is_rejection(r))
      assert.are.equal(5, r.retry_after)
      c:advance(5)
      assert.is_true(fam:call("shut", function() return true end))
      assert.are.equal("closed", fam:state("shut"))
      assert.are.equal("Cooldown(20s)", signals[3].reason)
      assert.are.equal("shut", signals[3].key)
      assert.are.equal("not FailureStreak(2)", signals[4].reason)
      assert.are.equal(3, fam:info("shut").counters.failure)
      -- new keys are of the new definition
      fail(fam, "newcomer", 2)
      assert.are.equal("open", fam:state("newcomer"))
    end)

    it_("takes another definition by name: a window of another size starts empty", function()
      local fam = assert(V1:family("players", { clock = H.clock(100).fn }))
      fail(fam, "k", 2)
      assert.is_true(fam:reload(V2, "resized"))
      assert.are.equal("resized", fam.name)
      assert.are.equal("fluxgate family 'resized'", tostring(fam))
      local info = fam:info("k")
      assert.are.equal(0, info.metrics.total_count)
      assert.are.equal(2, info.counters.failure)
      assert.are.equal(2, info.consecutive_failures)
      assert.are.equal("resized", fam:stats().name)
      fail(fam, "k", 1)
      assert.are.equal("open", fam:state("k"))
    end)

    it_("renames views and rejections with the family", function()
      local fam = assert(V1:family("players", { clock = H.clock(100).fn }))
      local view = assert(fam:get(7))
      fail(fam, 7, 1)
      assert.is_true(fam:reload(V2, "renamed"))
      assert.are.equal("renamed", view.name)
      assert.are.equal(fam:get(7), view)
      view:call(function() return nil, "boom" end)
      assert.are.equal("open", view:state())
      local _, r = view:call(function() return true end)
      assert.are.equal("renamed", r.breaker)
      assert.are.equal("7", r.key)
    end)

    it_("resolves Custom() from the family's predicates and takes the path the definition needs", function()
      local fam = assert(V1:family("players", { custom = { teapot = function(o) return o.result == 418 end } }))
      pass(fam, "k", 1)
      local ffi_first = on_family_ffi(fam)
      assert.are.equal(use_ffi, ffi_first)
      local token = assert(fam:acquire("held")) -- made on the path before the reload
      assert.is_true(fam:reload(V2, "guarded"))
      assert.is_false(on_family_ffi(fam), "Custom() predicates take the classic path")
      assert.are.equal(200, fam:call("k", function() return 200 end))
      assert.are.equal("closed", fam:state("k"))
      fam:call("k", function() return 418 end)
      assert.are.equal("open", fam:state("k"))
      fam:release(token, true, 200) -- a token of the path before is still taken
      fam:release(token, true, 200)  -- and a second release is a no-op
      assert.are.equal(1, fam:info("held").counters.success)
      -- and classified by the new definition's predicates: LuaJIT's FFI path
      -- cannot run Lua in its record, so it counted 418 as an untracked error
      assert.is_true(fam:reload(V1, "players"))
      local before = assert(fam:acquire("held"))
      local in_call
      assert.is_true(fam:reload(V2, "guarded"))
      fam:release(before, true, 418)
      local info = fam:info("held")
      assert.are.same({ 1, 1, 0 }, { info.counters.success, info.counters.failure, info.counters.ignored })
      assert.is_true(fam:reload(V1, "players"))
      fam:call("during", function()
        in_call = fam:reload(V2, "guarded") -- the call began on the path before
        return 418
      end)
      assert.is_true(in_call)
      info = fam:info("during")
      assert.are.same({ 0, 1, 0 }, { info.counters.success, info.counters.failure, info.counters.ignored })
      assert.is_true(fam:reload(V2, "guarded"))
      -- back to a definition without Custom(): the path the family was made for
      assert.is_true(fam:reload(V1, "players"))
      assert.are.equal(ffi_first, on_family_ffi(fam))
      fam:call("k2", function() return 418 end)
      assert.are.equal(1, fam:info("k2").counters.success)
    end)

    it_("refuses a missing name, an unknown Custom() and a family without predicates, changing nothing", function()
      local fam = assert(V1:family("players", { clock = H.clock(100).fn }))
      fail(fam, "k", 1)
      local bytes = fam:stats().bytes
      local ok, err = fam:reload(V2, "nope")
      assert.is_nil(ok)
      assert.matches("no breaker named 'nope'", err)
      ok, err = fam:reload(V2, "unknown")
      assert.is_nil(ok)
      assert.matches('Custom%("nobody_registered_this"%)', err)
      assert.matches("nothing changed", err)
      ok, err = fam:reload(V2, "guarded") -- made without a teapot predicate
      assert.is_nil(ok)
      assert.matches('Custom%("teapot"%)', err)
      assert.are.equal(bytes, fam:stats().bytes)
      assert.are.equal("players", fam.name)
      assert.are.equal(use_ffi, on_family_ffi(fam))
      assert.are.equal(1, fam:info("k").counters.failure)
      fail(fam, "k", 1)
      assert.are.equal("closed", fam:state("k")) -- still FailureStreak(3)
      fail(fam, "k", 1)
      assert.are.equal("open", fam:state("k"))
    end)

    it_("raises for wrong types and a closed family", function()
      local fam = assert(V1:family("players"))
      assert.has_error(function() fam:reload("not a policy") end, "bad argument #1 to 'reload' (a fluxgate policy expected, got string)")
      assert.has_error(function() fam:reload(V2, 42) end, "bad argument #2 to 'reload' (string expected, got number)")
      assert.has_error(function() fam.reload(42, V2) end)
      local cb = assert(V1:breaker("players"))
      assert.has_error(function() fam.reload(cb, V2) end)
      fam:close()
      assert.has_error(function() fam:reload(V2) end, "fluxgate: family 'players' is closed")
    end)

    it_("keeps Prometheus counters monotonic under the (new) name", function()
      local name = "fr_prom_" .. (use_ffi and "ffi" or "classic")
      local P1 = compile("breaker " .. name .. " { tripper = FailureStreak(100) }")
      local P2 = compile("breaker " .. name .. " { window = CountWindow(7) tripper = FailureStreak(50) }\n" ..
                         "breaker " .. name .. "_next { tripper = FailureStreak(50) }")
      local fam = assert(P1:family(name))
      for i = 1, 20 do pass(fam, i, 1); fail(fam, i, 1) end
      local s, f = calls_total(name, "success"), calls_total(name, "failure")
      assert.are.equal(20, s)
      assert.are.equal(20, f)
      assert.is_true(fam:reload(P2))
      assert.are.equal(s, calls_total(name, "success"))
      for i = 1, 20 do pass(fam, i, 1) end -- every key moves
      assert.are.equal(s + 20, calls_total(name, "success"))
      assert.are.equal(f, calls_total(name, "failure"))
      -- under another name, what the old name counted stays there (as a
      -- renamed breaker's does: another breaker of that name must not see
      -- its total go down) and the new name counts from the reload on
      local other = assert(P1:breaker(name))
      other:call(function() return true end)
      assert.is_true(fam:reload(P2, name .. "_next"))
      assert.are.equal(s + 21, calls_total(name, "success"))
      assert.are.equal(f, calls_total(name, "failure"))
      assert.are.equal(0, calls_total(name .. "_next", "success"))
      pass(fam, 1, 3)
      assert.are.equal(3, calls_total(name .. "_next", "success"))
      assert.are.equal(s + 21, calls_total(name, "success"))
      assert.are.equal(s + 23, fam:stats().calls.success, "the family's own stats count since it was made")
      assert.is_true(fam:reload(P2, name)) -- and back
      assert.are.equal(s + 21, calls_total(name, "success"))
      assert.are.equal(3, calls_total(name .. "_next", "success"))
      pass(fam, 1, 1)
      assert.are.equal(s + 22, calls_total(name, "success"))
      fam:close()
      assert.are.equal(s + 22, calls_total(name, "success"))
      assert.are.equal(3, calls_total(name .. "_next", "success"))
      assert.are.equal(f, calls_total(name, "failure"))
    end)

    it_("survives repeated reloads, collection and close", function()
      local fam = assert(V1:family("players", { custom = { teapot = function() return false end } }))
      for i = 1, 20 do
        assert.is_true(fam:reload(V2, i % 3 == 0 and "guarded" or "players"))
        pass(fam, i % 4, 1)
        collectgarbage()
      end
      local total = 0
      for _, k in ipairs(fam:keys()) do total = total + fam:info(k).counters.success end
      assert.are.equal(20, total)
      fam:close()
    end)
  end)
end
