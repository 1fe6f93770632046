-- cb:call, cb:call_with_fallback, cb:wrap, cb:acquire/cb:release and how an
-- outcome is read from Lua values (SPEC.md §7), on every engine path.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

for _, use_ffi in ipairs(H.paths()) do
  describe("the call protocol (" .. H.path_name(use_ffi) .. ")", function()
    local function new(spec, name)
      local cb; H.with_path(use_ffi, function() cb = H.new(spec, name) end); return cb
    end
    -- A breaker whose tracker is spelled out, with a never-firing tripper,
    -- so that metrics show what the tracker saw.
    local function tracking(tracker) return new({ tracker = tracker, tripper = "MinRequests(1000000) & FailureRate(1)" }) end
    local function counts(cb) local m = cb:info().metrics; return m.total_count, m.failure_count end

    it("returns every value, including trailing nils", function()
      local cb = new()
      assert.are.equal(3, select("#", cb:call(function() return 1, nil, nil end)))
      assert.are.equal(0, select("#", cb:call(function() end)))
    end)

    it("passes its arguments through", function()
      local cb = new()
      assert.are.same({ 1, 2, 3 }, { cb:call(function(...) return ... end, 1, 2, 3) })
    end)

    it("accepts callable tables", function()
      local cb = new()
      local callable = setmetatable({}, { __call = function(_, x) return x * 2 end })
      assert.are.equal(8, cb:call(callable, 4))
    end)

    it("reads a status from a table result", function()
      local cb = tracking("Status(500..599)")
      cb:call(function() return { status = 502 } end)
      cb:call(function() return { status = 200 } end)
      cb:call(function() return { status = "502" } end) -- not a number: no status
      assert.are.same({ 3, 1 }, { counts(cb) })
    end)

    it("nil, e is an error outcome handed back unchanged", function()
      local cb = tracking('TypeOf("timeout")')
      local e = { type = "timeout" }
      local a, b = cb:call(function() return nil, e end)
      assert.is_nil(a)
      assert.are.equal(e, b)
      cb:call(function() return nil end) -- a lone nil is a result
      assert.are.same({ 2, 1 }, { counts(cb) })
    end)

    it("string errors lose their position for the type only", function()
      local cb = tracking('TypeOf("timeout")')
      pcall(cb.call, cb, function() error("timeout") end)               -- "file:line: timeout"
      pcall(cb.call, cb, function() error("timeout", 0) end)            -- no position
      local f = load("error('timeout')", "=[C chunk]")
      pcall(cb.call, cb, f)                                              -- "[C chunk]:1: timeout"
      local g = load("error('timeout')")
      pcall(cb.call, cb, g)                                              -- [string "..."]:1: timeout
      assert.are.same({ 4, 4 }, { counts(cb) })
    end)

    it("a message with colons that is not a position keeps its type", function()
      local cb = tracking('TypeOf("connect: 10.0.0.1:80: refused")')
      pcall(cb.call, cb, function() error("connect: 10.0.0.1:80: refused", 0) end)
      assert.are.same({ 1, 1 }, { counts(cb) })
    end)

    it("table errors: type, else name; message, else msg, else tostring", function()
      local cb = tracking('TypeOf("T", "N") & (Message("m1") | Message("m2") | Message("custom text"))')
      pcall(cb.call, cb, function() error({ type = "T", message = "m1" }) end)
      pcall(cb.call, cb, function() error({ name = "N", msg = "m2" }) end)
      pcall(cb.call, cb, function()
        error(setmetatable({ type = "T" }, { __tostring = function() return "custom text" end }))
      end)
      assert.are.same({ 3, 3 }, { counts(cb) })
    end)

    it("a table error's numeric status counts", function()
      local cb = tracking("Status(429)")
      pcall(cb.call, cb, function() error({ status = 429 }) end)
      pcall(cb.call, cb, function() error({ status = 500 }) end)
      assert.are.same({ 1, 1 }, { counts(cb) })
    end)

    it("a hostile error value is still recorded and re-raised", function()
      local cb = tracking("All()")
      local evil = setmetatable({}, { __index = function() error("no fields") end })
      local ok, e = pcall(cb.call, cb, function() error(evil) end)
      assert.is_false(ok)
      assert.are.equal(evil, e)
      assert.are.same({ 1, 1 }, { counts(cb) })
    end)

    it("non-string, non-table errors are errors too", function()
      local cb = tracking("All()")
      pcall(cb.call, cb, function() error(42) end)
      pcall(cb.call, cb, function() error(true) end)
      assert.are.same({ 2, 2 }, { counts(cb) })
    end)

    it("untracked raised errors are re-raised unchanged and not recorded", function()
      local cb = tracking('TypeOf("x")')
      local e = { type = "y" }
      local ok, got = pcall(cb.call, cb, function() error(e) end)
      assert.is_false(ok)
      assert.are.equal(e, got)
      assert.are.same({ 0, 0 }, { counts(cb) })
    end)

    it("call_with_fallback hands untracked errors to the fallback as well", function()
      local cb = tracking('TypeOf("x")')
      assert.are.equal("fb:y", cb:call_with_fallback(function() error({ type = "y" }) end,
                                                      function(e) return "fb:" .. e.type end))
      assert.are.same({ 1, 2 }, { cb:call_with_fallback(function() return 1, 2 end, error) })
    end)

    it("wrap forwards arguments and results", function()
      local cb = new()
      local f = cb:wrap(function(a, b) return b, a end)
      assert.are.same({ 2, 1 }, { f(1, 2) })
      local g = cb:wrap(function() return nil, "e" end, function(e) return "fb " .. e end)
      assert.are.equal("fb e", g())
    end)

    it("release: a number or a table's status, an error value, a given duration", function()
      local clk = H.clock()
      local cb; H.with_path(use_ffi, function()
        cb = H.new({ tracker = 'Status(503) | TypeOf("boom")', tripper = "MinRequests(1000) & FailureRate(1)",
                     clock = clk.fn })
      end)
      cb:release(cb:acquire(), true, 503)
      cb:release(cb:acquire(), true, { status = 503 })
      cb:release(cb:acquire(), true, { status = 200 })
      cb:release(cb:acquire(), false, "boom")
      cb:release(cb:acquire(), false, "other") -- untracked
      local t = cb:acquire()
      clk:advance(3)
      cb:release(t, true, nil, 0.5)
      local m = cb:info().metrics
      assert.are.equal(5, m.total_count)
      assert.are.equal(3, m.failure_count)
      assert.is_true(math.abs(m.total_duration - 0.5) < 1e-9, "failures count 0 s; the success took 0.5 s")
    end)

    it("a second release is a no-op", function()
      local cb = new({ tripper = "FailureStreak(2)" })
      local t = cb:acquire()
      cb:release(t, false, "x")
      cb:release(t, false, "x")
      assert.are.equal(1, cb:info().metrics.total_count)
      assert.are.equal("closed", cb:state(), "one failure, not two")
      H.fail(cb, 1)
      local none, r = cb:acquire()
      assert.is_nil(none)
      assert.is_true(fluxgate.is_rejection(r))
    end)

    it("info has nil averages on an empty window and slow counts by threshold", function()
      local clk = H.clock()
      local cb; H.with_path(use_ffi, function()
        cb = H.new({ tripper = "SlowRate(0.9, threshold=1s) | SlowRate(0.9, threshold=500ms) & MinRequests(100)",
                     clock = clk.fn })
      end)
      local m = cb:info().metrics
      assert.is_nil(m.avg_duration)
      assert.is_nil(m.failure_rate)
      assert.are.equal(0, m.total_duration)
      cb:call(function() clk:advance(0.7) end)
      m = cb:info().metrics
      assert.are.equal(1, m.slow_counts[0.5])
      assert.are.equal(0, m.slow_counts[1])
      assert.are.equal(0, m.failure_rate)
    end)

    it("info has the documented fields", function()
      local clk = H.clock(5)
      local cb = new({ clock = clk.fn }, "fields")
      local info = cb:info()
      assert.are.equal("fields", info.name)
      assert.are.equal("closed", info.state)
      assert.are.equal(5, info.changed_at)
      assert.are.equal(0, info.reopens)
      assert.are.equal("table", type(info.metrics))
    end)
  end)
end

describe("disassembly", function()
  it("shows a breaker's compiled programs", function()
    local cb = H.new({ tripper = "FailureStreak(2)" })
    local text = cb:disassemble()
    assert.matches("tripper: FailureStreak(2)", text, 1, true)
    local p = assert(fluxgate.compile("breaker a { tracker = Status(500..599) }", "d.fgp"))
    assert.matches("Status(500..599)", p:disassemble("a"), 1, true)
    local none, err = p:disassemble("b")
    assert.is_nil(none)
    assert.matches("'b'", err, 1, true)
  end)
end)
