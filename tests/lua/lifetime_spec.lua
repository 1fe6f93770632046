-- Breakers and policies are ordinary garbage-collected values; a closed
-- breaker refuses to be used instead of crashing.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

-- Collects until weak[1] is gone, or gives up after a few rounds. LuaJIT
-- may still see a value in a dead stack slot of the caller's frame for a
-- while: overwrite the slots and collect again, a few times. Its compiled
-- traces are GC roots too, and one recorded while a breaker's closures ran
-- (the protocol's code is hot after the earlier specs) may hold one of them
-- as a constant: flush them. A breaker that is really held (a registry
-- reference, a cycle through C) is never collected, however often this runs.
local function collect_until_gone(weak)
  local function clobber() local a, b, c, d, e, f, g, h = 1, 2, 3, 4, 5, 6, 7, 8; return a + b + c + d + e + f + g + h end
  local jit = rawget(_G, "jit")
  for _ = 1, 5 do
    if jit then jit.flush() end
    clobber()
    collectgarbage(); collectgarbage(); collectgarbage()
    if weak[1] == nil then break end
  end
end

describe("lifetime", function()
  it("a breaker keeps its policy alive", function()
    local cb = assert(assert(fluxgate.compile("breaker x { tripper = FailureStreak(1) }")):breaker("x"))
    collectgarbage(); collectgarbage()
    H.fail(cb, 1)
    assert.are.equal("open", cb:state())
  end)

  it("a breaker whose closures refer back to it is still collected", function()
    local weak = setmetatable({}, { __mode = "v" })
    -- Made in a function of its own, so that no stack slot of this one
    -- still holds it (LuaJIT scans whole frames).
    local function make()
      local cb
      cb = H.new({ clock = function() return cb and 1 or 1 end, random = function() return cb and 0.5 or 0.5 end,
                   tracker = 'Custom("self_ref")',
                   custom = { self_ref = function() return cb ~= nil end },
                   listeners = { function() return cb end } })
      weak[1] = cb
      H.fail(cb, 1)
    end
    make()
    collect_until_gone(weak)
    assert.is_nil(weak[1])
  end)

  it("many short-lived breakers do not grow memory without bound", function()
    local function churn()
      for i = 1, 2000 do
        local cb = H.new({ window = "TimeWindow(60)" }, "churn" .. i)
        cb:call(function() end)
      end
      collectgarbage(); collectgarbage()
      return collectgarbage("count")
    end
    churn()
    local first = churn()
    local second = churn()
    assert.is_true(second < first * 1.5 + 64, "memory settles: " .. first .. " KB then " .. second .. " KB")
  end)

  -- What only some breakers need (the engine call in progress, the
  -- transition queue, a shared map) is a side structure outside the
  -- userdata, made on first need; core.side_count() counts those alive.
  describe("side structures", function()
    local core = require("fluxgate.core")
    local FORCE_OPEN = 3 -- core.command's op: queues a transition, drains nothing

    it("a plain breaker has none; its first listener makes one and close frees it", function()
      local before = core.side_count()
      local cb = H.new()
      cb:call(function() end)
      assert.are.equal(before, core.side_count())
      cb:on_transition(function() end)
      assert.are.equal(before + 1, core.side_count())
      cb:close()
      assert.are.equal(before, core.side_count())
      cb:close()
      assert.are.equal(before, core.side_count())
    end)

    it("a breaker closed with transitions queued frees its queue and drains nothing after", function()
      local before = core.side_count()
      local heard = 0
      local cb = H.new({ listeners = { function() heard = heard + 1 end } })
      assert.is_true(core.command(cb, FORCE_OPEN)) -- queued, not delivered
      assert.is_true(core.pending(cb))
      cb:close()
      assert.are.equal(before, core.side_count())
      assert.is_false(core.pending(cb))
      local signals, err, lost = core.drain(cb, true)
      assert.is_nil(signals)
      assert.is_nil(err)
      assert.are.equal(0, lost)
      assert.are.equal(0, heard)
    end)

    it("a breaker collected with transitions queued frees its side structure", function()
      local before = core.side_count()
      local weak = setmetatable({}, { __mode = "v" })
      local function make()
        local cb = H.new({ listeners = { function() end } }, "queued_gc")
        for _ = 1, 5 do
          core.command(cb, FORCE_OPEN) -- the queue grows (first a transition, then none: already open)
          core.command(cb, 0)          -- reset: another
        end
        assert.are.equal(before + 1, core.side_count())
        weak[1] = cb
      end
      make()
      collect_until_gone(weak)
      assert.is_nil(weak[1])
      assert.are.equal(before, core.side_count())
    end)

    it("a breaker given its first listener later, referring back to it, is still collected", function()
      local weak = setmetatable({}, { __mode = "v" })
      local heard = {}
      local function make()
        local cb = H.new({ tripper = "FailureStreak(1)" }, "late_listener")
        cb:on_transition(function(t) heard[#heard + 1] = cb and t.new_state end)
        H.fail(cb, 1)
        weak[1] = cb
      end
      make()
      assert.are.same({ "open" }, heard) -- the environment made later works
      collect_until_gone(weak)
      assert.is_nil(weak[1])
    end)
  end)

  if _VERSION == "Lua 5.4" then
    it("a <close> breaker is freed at scope end and refuses further use", function()
      local chunk = assert(load([[
        local fluxgate = ...
        local keep
        do
          local cb <close> = assert(fluxgate.breaker("closing"))
          keep = cb
        end
        return keep
      ]]))
      local cb = chunk(fluxgate)
      assert.has_error(function() cb:state() end)
      assert.has_error(function() cb:call(print) end)
      getmetatable(cb).__close(cb) -- idempotent
    end)
  end
end)

describe("coroutines", function()
  it("a protected function may yield and resume across calls of others", function()
    local cb = H.new({ tripper = "MinRequests(100) & FailureRate(1)" })
    local cos = {}
    for i = 1, 10 do
      cos[i] = coroutine.wrap(function()
        return cb:call(function(x) local y = coroutine.yield(x); return x + y end, i)
      end)
    end
    for i = 1, 10 do assert.are.equal(i, cos[i]()) end
    assert.are.equal(0, cb:info().metrics.total_count, "nothing completed yet")
    for i = 10, 1, -1 do assert.are.equal(i + 100, cos[i](100)) end
    assert.are.equal(10, cb:info().metrics.total_count)
  end)

  it("an error raised after a yield is recorded and re-raised", function()
    local cb = H.new({ tripper = "FailureStreak(1)" })
    local co = coroutine.create(function()
      return cb:call(function() coroutine.yield(); error({ type = "late" }) end)
    end)
    assert(coroutine.resume(co))
    local ok, err = coroutine.resume(co)
    assert.is_false(ok)
    assert.are.equal("late", err.type)
    assert.are.equal("open", cb:state())
  end)

  it("call_with_fallback yields too", function()
    local cb = H.new()
    local co = coroutine.wrap(function()
      return cb:call_with_fallback(function() coroutine.yield("wait"); return nil, "gone" end,
                                   function(e) return "fallback " .. e end)
    end)
    assert.are.equal("wait", co())
    assert.are.equal("fallback gone", co())
  end)

  it("acquire in one coroutine and release in another (access and log phases)", function()
    local clk = H.clock()
    local cb = H.new({ clock = clk.fn })
    local ctx = {}
    coroutine.wrap(function() ctx.token = assert(cb:acquire()) end)()
    clk:advance(0.25)
    coroutine.wrap(function() cb:release(ctx.token, true, 200) end)()
    local m = cb:info().metrics
    assert.are.equal(1, m.total_count)
    assert.is_true(math.abs(m.total_duration - 0.25) < 1e-9)
  end)
end)

-- A breaker or family in a weak-keyed table stays there after its last
-- reference is dropped, until its finalizer has run; used from there, it is
-- reachable again but still waiting for its finalizer, which a collection
-- step taken by any allocation of the call runs -- in the middle of that
-- call. The drains freed the transition queue (and the family's keys) under
-- their own loop, and info() could read the name after the policy went:
-- LuaJIT segfaulted within a few hundred rounds of the loops below. Run in
-- a child interpreter, so that a crash fails this test instead of busted.
describe("objects used while they wait for their finalizer", function()
  it("breakers and families drain and answer without touching freed memory", function()
    local out = H.run_child([[
      local fluxgate = require("fluxgate")
      local n = 0
      local weak = setmetatable({}, { __mode = "k" })
      for _ = 1, 1500 do
        for _ = 1, 10 do
          local p = assert(fluxgate.compile("breaker b { tripper = FailureStreak(1) }"))
          weak[assert(p:breaker("b", { listeners = { function(s) n = n + #s.reason end } }))] = true
        end
        for cb in pairs(weak) do
          pcall(function()
            for _ = 1, 3 do cb:force_open(); cb:reset(); n = n + #cb:info().name end
          end)
        end
      end
      print("breakers done")
      local fams = setmetatable({}, { __mode = "k" })
      for _ = 1, 1500 do
        for _ = 1, 10 do
          local p = assert(fluxgate.compile("breaker b { tripper = FailureStreak(1) }"))
          local fam = assert(p:family("b", { listeners = { function(s) n = n + #s.reason + #s.key end } }))
          fam:get("k1")
          fam:get("k2")
          fams[fam] = true
        end
        for fam in pairs(fams) do
          pcall(function()
            for _ = 1, 3 do fam:force_open("k1"); fam:reset("k2"); n = n + #fam:info("k1").name end
          end)
        end
      end
      print("families done", n > 0)
    ]])
    assert.are.equal("breakers done\nfamilies done\ttrue\nexit 0\n", out)
  end)
end)

-- The same for cb:snapshot() of a breaker whose snapshot is larger than its
-- stack buffer: the scratch buffer's allocation ran the finalizer, and the
-- snapshot was then written from the freed engine (LuaJIT segfaulted at
-- once).
describe("a snapshot of an object waiting for its finalizer", function()
  it("raises 'closed' instead of reading a freed breaker", function()
    local out = H.run_child([[
      local fluxgate = require("fluxgate")
      local n, closed = 0, 0
      local weak = setmetatable({}, { __mode = "k" })
      for _ = 1, 300 do
        for _ = 1, 10 do
          local p = assert(fluxgate.compile("breaker b { window = CountWindow(2000) tripper = FailureStreak(1) }"))
          local cb = assert(p:breaker("b"))
          for _ = 1, 300 do cb:call(function() return true end) end
          weak[cb] = true
        end
        for cb in pairs(weak) do
          local ok, err = pcall(function() for _ = 1, 3 do n = n + #cb:snapshot() end end)
          if not ok then
            assert(tostring(err):find("is closed", 1, true), err)
            closed = closed + 1
          end
        end
      end
      print("done", n > 0)
    ]])
    assert.are.equal("done\ttrue\nexit 0\n", out)
  end)
end)

-- Every method of a breaker and of a family used while it waits for its
-- finalizer. On LuaJIT's FFI path the engine pointer is read from the
-- userdata, and reading a pointer boxes it: that allocation's collection
-- step could run this very object's finalizer and free the engine whose
-- pointer the call then used (segfaults in fg_family_pin, fg_breaker_classify);
-- reload's own allocations did the same on both paths' C side.
describe("every method of objects waiting for their finalizer", function()
  it("raises 'closed' or works, never touching a freed engine", function()
    -- (3 crashes in 6 runs before the flag checks; then, with LuaJIT's
    -- traces on, still 4 in 40 in fg_family_release: a trace exit between
    -- the Lua-side check and the FFI call ran the finalizer; none in 100
    -- since the family FFI path's C entry points check and call in one
    -- step, lua/fluxgate_family_ffi.c)
    local out = H.run_child([==[
local fluxgate = require("fluxgate")
local n = 0
local weak = setmetatable({}, { __mode = "k" })
local fweak = setmetatable({}, { __mode = "k" })
local P2 = assert(fluxgate.compile("breaker b { window = CountWindow(1500) tripper = FailureStreak(2) }\nbreaker c { window = TimeWindow(30) tripper = SlowRate(50%, threshold = 1s) }"))
local methods = {
  function(cb) n = n + #cb:state() end,
  function(cb) local i = cb:info(); n = n + #i.name end,
  function(cb) cb:call(function() return nil, "x" end) end,
  function(cb) local t = cb:acquire(); if t then cb:release(t, true, 1) end end,
  function(cb) cb:call_with_fallback(function() error({type="T"}) end, function() return 1 end) end,
  function(cb) cb:reload(P2, "c"); cb:reload(P2, "b") end,
  function(cb) n = n + #cb:snapshot() end,
  function(cb) cb:restore(cb:snapshot()) end,
  function(cb) cb:force_open(); cb:reset() end,
  function(cb) cb:on_transition(function(s) n = n + #s.reason end) end,
  function() n = n + #fluxgate.prometheus() end,
}
local fmethods = {
  function(f) f:call("k" .. (n % 7), function() return nil, "e" end) end,
  function(f) n = n + #f:keys() end,
  function(f) n = n + f:stats().keys end,
  function(f) local t = f:acquire("z"); if t then f:release(t, false, "x") end end,
  function(f) f:reload(P2, "c"); f:reload(P2, "b") end,
  function(f) n = n + #f:info("k1").name end,
  function(f) f:force_open("k1"); f:reset("k1") end,
}
for r = 1, 600 do
  for _ = 1, 5 do
    local p = assert(fluxgate.compile("breaker b { window = CountWindow(1500) tripper = FailureStreak(2) }"))
    local cb = assert(p:breaker("b", { listeners = { function(s) n = n + #s.reason end } }))
    for _ = 1, 50 do cb:call(function() return true end) end
    weak[cb] = true
    local f = assert(p:family("b", { listeners = { function(s) n = n + #s.key end }, metrics = (r % 2 == 0) and "per_key" or nil }))
    f:get("k1"); f:get("k2")
    fweak[f] = true
  end
  for cb in pairs(weak) do for _, m in ipairs(methods) do pcall(m, cb) end end
  for f in pairs(fweak) do for _, m in ipairs(fmethods) do pcall(m, f) end end
end
print("done", n > 0)
]==])
    assert.are.equal("done\ttrue\nexit 0\n", out)
  end)
end)
