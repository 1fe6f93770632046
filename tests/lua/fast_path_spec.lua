-- The hot path of cb:call and cb:acquire/cb:release (on Lua 5.4, C closures
-- per breaker; under LuaJIT, the FFI) must mean exactly what the generic
-- path means; these are the cases where the two could drift apart.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

for _, use_ffi in ipairs(H.paths()) do
  describe("the fast path (" .. H.path_name(use_ffi) .. ")", function()
    local function new(spec, name)
      local cb; H.with_path(use_ffi, function() cb = H.new(spec, name) end); return cb
    end
    local function tracking(tracker, extra)
      local spec = { tracker = tracker, tripper = "MinRequests(1000000) & FailureRate(1)" }
      for k, v in pairs(extra or {}) do spec[k] = v end
      return new(spec)
    end
    local function counts(cb) local m = cb:info().metrics; return m.total_count, m.failure_count end

    it("reads a result's status through its metatable", function()
      local cb = tracking("Status(500..599)")
      local Response = { __index = function(_, k) if k == "status" then return 503 end end }
      cb:call(function() return setmetatable({}, Response) end)
      cb:release(cb:acquire(), true, setmetatable({}, Response))
      assert.are.same({ 2, 2 }, { counts(cb) })
    end)

    it("takes a status only from a number in range", function()
      local cb = tracking("Status(500..599)")
      cb:call(function() return { status = 1e300 } end)
      cb:call(function() return { status = 0 / 0 } end)
      cb:release(cb:acquire(), true, 1e300)
      cb:release(cb:acquire(), true, "503")
      cb:release(cb:acquire(), true, 503.5)
      assert.are.same({ 5, 1 }, { counts(cb) })
    end)

    it("records on the breaker a method is called on", function()
      local a, b = new(nil, "a"), new(nil, "b")
      a.call(b, function() return 1 end)
      b:release(a.acquire(b), true)
      assert.are.equal(0, a:info().metrics.total_count)
      assert.are.equal(2, b:info().metrics.total_count)
    end)

    it("hands transitions to listeners after a plain result", function()
      local clk = H.clock()
      local seen = {}
      local cb = new({ tripper = "FailureStreak(1)", retry = "Cooldown(1)", permit = "All()",
                       max_half_open_calls = 1, clock = clk.fn,
                       listeners = { function(s) seen[#seen + 1] = s.old_state .. ">" .. s.new_state end } })
      H.fail(cb, 1)
      clk:advance(2)
      assert.are.same({ 7, 8 }, { cb:call(function() return 7, 8 end) })
      assert.are.equal("closed>open,open>half_open,half_open>closed", table.concat(seen, ","))
    end)

    it("lets a listener yield when the transition comes from a plain result", function()
      local clk = H.clock()
      local cb = new({ tripper = "FailureStreak(1)", retry = "Cooldown(1)", permit = "All()",
                       clock = clk.fn,
                       listeners = { function(s) if s.new_state == "closed" then coroutine.yield("told") end end } })
      H.fail(cb, 1)
      clk:advance(2)
      cb:state() -- open -> half_open now, so that the call's release closes it
      local co = coroutine.wrap(function() return "done", cb:call(function() return 1, nil end) end)
      assert.are.equal("told", co())
      assert.are.same({ "done", 1 }, { co() })
      assert.are.equal("closed", cb:state())
    end)

    it("lets a listener yield when the transition comes from the admission", function()
      local clk = H.clock()
      local seen = {}
      local cb = new({ tripper = "FailureStreak(1)", retry = "Cooldown(1)", permit = "All()",
                       clock = clk.fn,
                       listeners = { function(s)
                         if s.new_state == "half_open" then coroutine.yield("told") end
                         seen[#seen + 1] = s.new_state
                       end } })
      H.fail(cb, 1)
      clk:advance(2) -- the call's acquire moves open -> half_open
      local co = coroutine.wrap(function() return "done", cb:call(function(x) return x end, 5) end)
      assert.are.equal("told", co())
      assert.are.same({ "done", 5 }, { co() })
      assert.are.equal("open,half_open,closed", table.concat(seen, ","))
    end)

    -- SPEC 7: fn runs under a Lua frame's pcall, or on Lua 5.4 under
    -- lua_pcallk in cb.call itself (either lets fn yield).
    it("runs fn directly under cb.call's protected call", function()
      local cb = new()
      local runner, caller
      cb:call(function()
        runner = debug.getinfo(2, "f").func
        caller = debug.getinfo(3, "f").func
      end)
      if _VERSION == "Lua 5.4" then
        assert.are.equal(cb.call, runner) -- a C function with lua_pcallk
      else
        assert.are.equal(pcall, runner) -- no C function of ours between fn and pcall
        assert.are.equal(cb.call, caller)
      end
    end)

    it("reads a Lua clock once at admission and once at release", function()
      local reads = 0
      local cb = new({ clock = function() reads = reads + 1; return reads end })
      reads = 0
      cb:call(function() end)
      assert.are.equal(2, reads)
      cb:release(cb:acquire(), true)
      assert.are.equal(4, reads)
      assert.are.equal(2, cb:info().metrics.total_duration)
    end)

    it("a double release touches neither the clock nor the window", function()
      local reads = 0
      local cb = new({ clock = function() reads = reads + 1; return reads end })
      local t = assert(cb:acquire())
      cb:release(t, true)
      local before = reads
      cb:release(t, true)
      cb:release(t, false, "boom")
      assert.are.equal(before, reads)
      assert.are.equal(1, cb:info().metrics.total_count)
    end)

    it("a token is good only for the breaker that gave it, even one of the same name", function()
      local a, b = new(nil, "same"), new(nil, "same")
      local custom = new({ tracker = 'Custom("c")', custom = { c = function() return false end } })
      assert.has_error(function() b:release(a:acquire(), true) end)
      assert.has_error(function() a:release(custom:acquire(), true) end)
      assert.has_error(function() custom:release(a:acquire(), true) end)
      assert.has_error(function() a:release({ a }, true) end)
    end)

    it("an error value is read in Lua, even one whose fields raise", function()
      local cb = tracking("TypeOf(\"timeout\")")
      cb:release(cb:acquire(), false, { type = "timeout" })
      cb:release(cb:acquire(), false, "x.lua:3: timeout")
      local hostile = setmetatable({}, { __index = function() error("no") end })
      cb:release(cb:acquire(), false, hostile)
      assert.are.same({ 2, 2 }, { counts(cb) })
    end)

    it("an error that opens the breaker reaches the listeners, then is re-raised unchanged", function()
      local seen = {}
      local cb = new({ tripper = "FailureStreak(1)",
                       listeners = { function(s) seen[#seen + 1] = s.new_state end } })
      local e = { type = "boom" }
      local ok, got = pcall(cb.call, cb, function() error(e) end)
      assert.is_false(ok)
      assert.are.equal(e, got)
      assert.are.same({ "open" }, seen)
    end)

    it("nil, e that opens the breaker reaches the listeners and comes back unchanged", function()
      local seen = {}
      local cb = new({ tripper = "FailureStreak(1)",
                       listeners = { function(s) seen[#seen + 1] = s.new_state end } })
      assert.are.same({ n = 3, nil, "gone", 3 }, table.pack(cb:call(function() return nil, "gone", 3 end)))
      assert.are.same({ "open" }, seen)
    end)

    it("call_with_fallback: the fallback gets every error value unchanged, tracked or not", function()
      local cb = tracking('TypeOf("timeout")')
      local got = {}
      local function fallback(e) got[#got + 1] = e; return "fb", #got end
      local t = { type = "timeout" }
      assert.are.same({ "fb", 1 }, { cb:call_with_fallback(function() error(t) end, fallback) })
      assert.are.same({ "fb", 2 }, { cb:call_with_fallback(function() error("x.lua:1: timeout", 0) end, fallback) })
      assert.are.same({ "fb", 3 }, { cb:call_with_fallback(function() return nil, "refused" end, fallback) })
      assert.are.same({ "fb", 4 }, { cb:call_with_fallback(function() error({ type = "other" }) end, fallback) })
      assert.are.same({ n = 3, 1, nil, 3 }, table.pack(cb:call_with_fallback(function() return 1, nil, 3 end, fallback)))
      assert.are.equal(t, got[1])
      assert.are.same({ "x.lua:1: timeout", "refused" }, { got[2], got[3] })
      assert.are.same({ 3, 2 }, { counts(cb) }) -- "refused" and "other" are ignored: no timeouts
    end)

    it("call_with_fallback: listeners hear the transition before the fallback runs", function()
      local log = {}
      local cb = new({ tripper = "FailureStreak(1)", retry = "Cooldown(60)",
                       listeners = { function(s) log[#log + 1] = s.new_state end } })
      local r = cb:call_with_fallback(function() error("down", 0) end,
                                      function(e) log[#log + 1] = "fallback " .. e; return "cached" end)
      assert.are.equal("cached", r)
      assert.are.equal("open,fallback down", table.concat(log, ","))
      local rej = cb:call_with_fallback(function() error("not run") end, function(e) return e end)
      assert.is_true(fluxgate.is_rejection(rej))
      assert.are.equal("open", rej.state)
    end)

    it("call_with_fallback: a result table with a metatable and a callable fallback", function()
      local cb = tracking("Status(500..599)")
      local Response = { __index = function(_, k) if k == "status" then return 503 end end }
      local resp = setmetatable({}, Response)
      assert.are.equal(resp, cb:call_with_fallback(function() return resp end, function() return "fb" end))
      local callable = setmetatable({}, { __call = function(_, e) return "table fb " .. e end })
      assert.are.equal("table fb x", cb:call_with_fallback(function() return nil, "x" end, callable))
      assert.are.same({ 1, 1 }, { counts(cb) }) -- the 503; an error without a status is ignored
    end)

    it("call_with_fallback: fn and the fallback may yield", function()
      local cb = tracking("TypeOf(\"e\")")
      local co = coroutine.wrap(function()
        return cb:call_with_fallback(function() coroutine.yield("in fn"); error("e", 0) end,
                                     function(e) coroutine.yield("in fallback"); return "fb " .. e end)
      end)
      assert.are.equal("in fn", co())
      assert.are.equal("in fallback", co())
      assert.are.equal("fb e", co())
      assert.are.same({ 1, 1 }, { counts(cb) })
    end)

    it("call_with_fallback runs fn directly under its protected call", function()
      local cb = new()
      local runner, caller
      cb:call_with_fallback(function()
        runner = debug.getinfo(2, "f").func
        caller = debug.getinfo(3, "f").func
      end, function() end)
      if _VERSION == "Lua 5.4" then
        assert.are.equal(cb.call_with_fallback, runner)
      else
        assert.are.equal(pcall, runner)
        assert.are.equal(cb.call_with_fallback, caller)
      end
    end)

    it("a closed breaker refuses the fast path too", function()
      local cb = new()
      local t = assert(cb:acquire())
      cb:close()
      assert.has_error(function() cb:call(function() end) end)
      assert.has_error(function() cb:acquire() end)
      assert.has_error(function() cb:release(t, true) end)
    end)
  end)
end

describe("the fast path with many results", function()
  it("returns them all, also when a transition is handed to the listeners", function()
    local seen = 0
    local cb = assert(fluxgate.breaker("many", { tripper = "FailureStreak(1)",
                                                 listeners = { function() seen = seen + 1 end } }))
    local many = {}
    for i = 1, 5000 do many[i] = i end
    local unpack = table.unpack or unpack
    local r = table.pack(cb:call(function() return unpack(many) end))
    assert.are.equal(5000, r.n)
    r = table.pack(cb:call(function() return nil, unpack(many) end))
    assert.are.equal(5001, r.n)
    assert.are.equal(1, seen)
  end)
end)

describe("the fast path with many arguments", function()
  it("passes them all to fn, with and without a fallback", function()
    local cb = assert(fluxgate.breaker("many_args", {}))
    local unpack = table.unpack or unpack
    local function count(...)
      local n = select("#", ...)
      if n == 0 then return 0 end
      return n, (select(n, ...))
    end
    for _, n in ipairs({ 0, 1, 12, 13, 40, 300 }) do
      local args = {}
      for i = 1, n do args[i] = i end
      local got, last = cb:call(count, unpack(args, 1, n))
      assert.are.equal(n, got)
      if n > 0 then assert.are.equal(n, last) end
      got, last = cb:call_with_fallback(count, error, unpack(args, 1, n))
      assert.are.equal(n, got)
      if n > 0 then assert.are.equal(n, last) end
    end
  end)
end)
