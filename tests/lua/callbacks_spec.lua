-- What happens when a Lua callback fails (documented in doc/lua.md, "When a callback fails"):
--   clock     raises  -> the call raises before the engine is touched
--   random    raises  -> reported; the draw counts as just below 1 (reject)
--   Custom()  raises  -> reported; the predicate does not match
--   listener  raises  -> reported; the other listeners still run
-- Reports go to ngx.log(ngx.ERR, ...) under OpenResty, to stderr otherwise.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

describe("a clock that raises", function()
  it("makes cb:call raise before fn runs and before the engine is touched", function()
    local broken = false
    local cb = H.new({ clock = function() if broken then error("clock down") end return 1 end })
    broken = true
    local ran = false
    local ok, err = pcall(cb.call, cb, function() ran = true end)
    assert.is_false(ok)
    assert.matches("clock down", err, 1, true)
    assert.is_false(ran)
    broken = false
    assert.are.equal(0, cb:info().metrics.total_count)
  end)

  it("makes acquire raise too", function()
    local broken = false
    local cb = H.new({ clock = function() if broken then error("clock down") end return 1 end })
    broken = true
    assert.has_error(function() cb:acquire() end)
  end)

  it("a clock that returns a non-number raises", function()
    local value = 1
    local cb = H.new({ clock = function() return value end })
    value = "soon"
    assert.has_error(function() cb:call(print) end)
  end)

  it("raising at breaker creation raises from fluxgate.breaker", function()
    assert.has_error(function() fluxgate.breaker("t", { clock = function() error("no time") end }) end)
  end)
end)

describe("a clock that returns no usable time", function()
  -- NaN, infinities and numbers past +-9e15 are ignored (doc/lua.md, "When a
  -- callback fails"): time stays at the last good reading. A glitch of 1e300
  -- taken as a time left the breaker open for good.
  it("is ignored: the cooldown counts from the last good reading", function()
    for _, bad in ipairs({ 0 / 0, math.huge, -math.huge, 1e20, 1e300, -1e300 }) do
      local now = 1000
      local cb = H.new({ tripper = "FailureStreak(1)", retry = "Cooldown(60)", permit = "All()",
                         clock = function() return now end })
      local token = cb:acquire()
      now = bad
      cb:release(token, false, "boom") -- opens, at 1000
      assert.are.equal("open", cb:state())
      assert.are.equal(1000, cb:info().changed_at)
      now = 1059.5
      assert.are.equal(0.5, H.rejection(cb).retry_after)
      now = 1060
      assert.is_nil(H.rejection(cb)) -- the probe, which succeeds and closes the breaker
      assert.are.equal("closed", cb:state())
    end
  end)
end)

describe("a random function that raises", function()
  it("is reported and rejects the probe; the breaker carries on", function()
    local fail_draw = true
    local cb = H.new({ tripper = "FailureStreak(1)", retry = "Always()", permit = "Random(0.5)",
                       random = function() if fail_draw then error("rng down") end return 0.1 end })
    H.fail(cb, 1)
    local rejected
    local reports = H.capture_reports(function() rejected = H.rejection(cb) end)
    assert.is_not_nil(rejected)
    assert.are.equal(1, #reports)
    assert.matches("breaker 't'", reports[1], 1, true)
    assert.matches("random function", reports[1], 1, true)
    assert.matches("rng down", reports[1], 1, true)
    fail_draw = false
    assert.is_nil(H.rejection(cb))
  end)

  it("a draw outside [0, 1) is reported and rejects", function()
    local cb = H.new({ tripper = "FailureStreak(1)", retry = "Always()", permit = "Random(0.5)",
                       random = function() return 7 end })
    H.fail(cb, 1)
    local rejected
    local reports = H.capture_reports(function() rejected = H.rejection(cb) end)
    assert.is_not_nil(rejected)
    assert.matches("outside", reports[1], 1, true)
  end)
end)

describe("a Custom() predicate that raises", function()
  it("does not match, is reported, and the call's own results come back", function()
    local cb = H.new({ tracker = 'Custom("bad") | TypeOf("real")', tripper = "MinRequests(100) & FailureRate(1)",
                       custom = { bad = function() error("predicate bug") end } })
    local a, b
    local reports = H.capture_reports(function()
      a, b = cb:call(function() return "result", 2 end)
    end)
    assert.are.equal("result", a)
    assert.are.equal(2, b)
    assert.are.equal(1, #reports)
    assert.matches('Custom("bad") predicate', reports[1], 1, true)
    assert.matches("predicate bug", reports[1], 1, true)
    -- the failing predicate counted as no match; the rest of the tracker still works
    H.capture_reports(function() H.fail(cb, 1, { type = "real" }) end)
    local m = cb:info().metrics
    assert.are.equal(2, m.total_count)
    assert.are.equal(1, m.failure_count)
  end)

  it("receives the whole outcome", function()
    local seen = {}
    local cb = H.new({ tracker = 'Custom("spy")', tripper = "MinRequests(100) & FailureRate(1)",
                       custom = { spy = function(o) seen[#seen + 1] = o; return false end } })
    local response = { status = 503 }
    cb:call(function() return response end)
    local err = { type = "Timeout", message = "too slow", status = 504 }
    pcall(cb.call, cb, function() error(err) end)
    pcall(cb.call, cb, function() error("plain") end)
    assert.are.equal(3, #seen)
    assert.are.same({ ok = true, status = 503, result = response }, seen[1])
    assert.are.equal(response, seen[1].result)
    assert.is_false(seen[2].ok)
    assert.are.equal(err, seen[2].error)
    assert.are.equal("Timeout", seen[2].type)
    assert.are.equal("too slow", seen[2].message)
    assert.are.equal(504, seen[2].status)
    assert.are.equal("plain", seen[3].type, "the position is stripped from the type")
    assert.matches("callbacks_spec.lua:%d+: plain", seen[3].message)
  end)

  it("a truthy non-boolean answer matches", function()
    local cb = H.new({ tracker = 'Custom("yes")', tripper = "FailureStreak(1)",
                       custom = { yes = function() return "yes" end } })
    H.fail(cb, 1)
    assert.are.equal("open", cb:state())
  end)

  it("may not use its own breaker (that would re-enter the engine)", function()
    local cb
    cb = H.new({ tracker = 'Custom("nosy")', tripper = "FailureStreak(1)",
                 custom = { nosy = function() cb:reset(); return true end } })
    local reports = H.capture_reports(function() H.fail(cb, 1) end)
    assert.are.equal(1, #reports)
    assert.matches("own", reports[1], 1, true)
    assert.are.equal("closed", cb:state(), "the predicate failed: no match, no trip")
  end)
end)

describe("a listener that raises", function()
  it("is reported and the other listeners still run", function()
    local heard = 0
    local cb = H.new({ tripper = "FailureStreak(1)",
                       listeners = { function() error("listener bug") end, function() heard = heard + 1 end } })
    local reports = H.capture_reports(function() H.fail(cb, 1) end)
    assert.are.equal(1, heard)
    assert.are.equal(1, #reports)
    assert.matches("listener bug", reports[1], 1, true)
    assert.are.equal("open", cb:state())
  end)

  it("is reported even when its error value's __tostring raises too; the call and the others go on", function()
    local evil = setmetatable({}, { __tostring = function() error("tostring bug") end })
    local heard = 0
    local listeners = { function() error(evil) end, function() heard = heard + 1 end }
    local cb = H.new({ tripper = "FailureStreak(1)", listeners = listeners })
    local p = assert(fluxgate.compile("breaker f { tripper = FailureStreak(1) }"))
    local fam = assert(p:family("f", { listeners = listeners }))
    local reports = H.capture_reports(function()
      H.fail(cb, 1)
      assert.are.same({ nil, "boom" }, { fam:call("k", function() return nil, "boom" end) })
    end)
    assert.are.equal(2, heard)
    assert.are.equal(2, #reports)
    for i = 1, 2 do
      assert.matches("a listener failed: (a table error value whose __tostring failed)", reports[i], 1, true)
    end
    assert.are.equal("open", cb:state())
    assert.are.equal("open", fam:state("k"))
  end)

  it("reports to stderr outside OpenResty", function()
    local written = {}
    local saved = io.stderr
    io.stderr = { write = function(_, ...) written[#written + 1] = table.concat({ ... }) end }
    local ok, err = pcall(function()
      local cb = H.new({ tripper = "FailureStreak(1)", listeners = { function() error("to stderr") end } })
      H.fail(cb, 1)
    end)
    io.stderr = saved
    assert(ok, err)
    assert.are.equal(1, #written)
    assert.matches("to stderr", written[1], 1, true)
  end)

  it("a listener may use the breaker", function()
    local cb
    cb = H.new({ tripper = "FailureStreak(1)",
                 listeners = { function(s) if s.new_state == "open" then cb:reset() end end } })
    H.fail(cb, 1)
    assert.are.equal("closed", cb:state())
  end)
end)

describe("signals", function()
  it("carry the rule that fired and the window before it was cleared", function()
    local got = {}
    local cb = H.new({ tripper = "FailureStreak(2) | (MinRequests(50) & FailureRate(0.5))",
                       listeners = { function(s) got[#got + 1] = s end } })
    H.pass(cb, 1)
    H.fail(cb, 2)
    assert.are.equal(1, #got)
    assert.are.equal("t", got[1].breaker)
    assert.are.equal("FailureStreak(2)", got[1].reason)
    assert.are.equal(3, got[1].metrics.total_count)
    assert.are.equal(2, got[1].metrics.failure_count)
    cb:reset()
    assert.are.equal("reset()", got[2].reason)
    assert.are.equal(0, got[2].metrics.total_count)
  end)
end)

-- Lua code can be interrupted at any instruction (a debug hook that raises,
-- a memory error). A drain interrupted after marking its object "being
-- drained" and before clearing the mark must not hold that object's
-- transitions for good: the mark counts only while its drain is on a stack.
describe("a drain interrupted by an error", function()
  -- Runs fn with a line hook that raises once, as the drain (delivery.lua)
  -- reaches its protected delivery: the object is marked by then.
  local function interrupted_at_delivery(fn)
    local path = assert(package.searchpath("fluxgate.delivery", package.path))
    local line = 0
    for text in io.lines(path) do
      line = line + 1
      if text:find("pcall(deliver, self, env)", 1, true) then break end
    end
    local fired = false
    if rawget(_G, "jit") then jit.flush() end -- compiled code runs no hooks
    local ok, err = pcall(function()
      debug.sethook(function(_, at)
        if not fired and at == line and debug.getinfo(2, "S").source:find("delivery.lua", 1, true) then
          fired = true
          error("interrupted", 0)
        end
      end, "l")
      fn()
    end)
    debug.sethook()
    assert.is_true(fired, "the hook never reached delivery.lua line " .. line)
    assert.is_false(ok)
    assert.are.equal("interrupted", err)
  end

  local function transitions(seen)
    local out = {}
    for i, s in ipairs(seen) do out[i] = s.old_state .. ">" .. s.new_state end
    return table.concat(out, " ")
  end

  it("delivers the breaker's transitions afterwards, in order", function()
    local seen = {}
    local cb = H.new({ listeners = { function(s) seen[#seen + 1] = s end } })
    interrupted_at_delivery(function() cb:force_open() end)
    assert.are.equal(0, #seen)
    cb:reset()
    assert.are.equal("closed>forced_open forced_open>closed", transitions(seen))
    cb:disable()
    assert.are.equal("closed>forced_open forced_open>closed closed>disabled", transitions(seen))
  end)

  it("delivers a family's transitions afterwards, in order", function()
    local seen = {}
    local p = assert(fluxgate.compile("breaker f { tripper = FailureStreak(1) }"))
    local fam = assert(p:family("f", { listeners = { function(s) seen[#seen + 1] = s end } }))
    fam:get("k")
    interrupted_at_delivery(function() fam:force_open("k") end)
    assert.are.equal(0, #seen)
    fam:reset("k")
    assert.are.equal("closed>forced_open forced_open>closed", transitions(seen))
    assert.are.equal("k", seen[2].key)
  end)
end)
