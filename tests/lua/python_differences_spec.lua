-- The differences from Python fluxgate that doc/c-api.md lists and the Lua
-- surface shows, pinned where a differential run against fluxgate models
-- them (fluxgate's answer in each comment): trackers classify results,
-- TypeOf() has no class hierarchy, times are the breaker's clock.
local H = dofile("tests/lua/helper.lua")

describe("differences from Python fluxgate", function()
  it("a Custom() predicate sees results, and one that answers true fails them", function()
    -- fluxgate: Custom(lambda e: True) sees raised exceptions only; a return is a success
    local seen = {}
    local cb = H.new({ tracker = 'Custom("any")', tripper = "FailureStreak(2)",
                       custom = { any = function(o) seen[#seen + 1] = o.ok; return true end } })
    assert.are.equal("fine", cb:call(function() return "fine" end))
    assert.are.same({ true }, seen)
    assert.are.equal(1, cb:info().metrics.failure_count)
    cb:release(cb:acquire(), true, 200)
    assert.are.equal("open", cb:state())
  end)

  it("a predicate that tests ok first leaves results alone; ~ never matches a result", function()
    local cb = H.new({ tracker = 'Custom("errors") | ~TypeOf("cancelled")',
                       tripper = "FailureStreak(1)",
                       custom = { errors = function(o) return o.ok == false end } })
    cb:call(function() return { status = 200 } end)
    cb:release(cb:acquire(), true, 503)
    local m = cb:info().metrics
    assert.are.same({ 2, 0 }, { m.total_count, m.failure_count })
    assert.are.equal("closed", cb:state())
  end)

  it("TypeOf() matches the type name exactly: no subclasses", function()
    -- fluxgate: TypeOf(ConnectionError) is isinstance, so ConnectionRefusedError matches
    local cb = H.new({ tracker = 'TypeOf("ConnectionError")', tripper = "FailureStreak(1)" })
    local e = { type = "ConnectionRefusedError" }
    local ok, raised = pcall(cb.call, cb, function() error(e) end)
    assert.is_false(ok)
    assert.are.equal(e, raised)
    assert.are.equal("closed", cb:state())
    assert.are.equal(0, cb:info().metrics.total_count) -- untracked: not recorded
    pcall(cb.call, cb, function() error({ type = "ConnectionError" }) end)
    assert.are.equal("open", cb:state())
  end)

  it("changed_at and a signal's timestamp are the breaker's clock, not Unix time", function()
    -- fluxgate: both are time.time()
    local clock = H.clock(5.25)
    local signals = {}
    local cb = H.new({ tripper = "FailureStreak(1)", clock = clock.fn,
                       listeners = { function(s) signals[#signals + 1] = s.timestamp end } })
    assert.are.equal(5.25, cb:info().changed_at)
    clock:advance(2)
    H.fail(cb)
    assert.are.same({ 7.25 }, signals)
    assert.are.equal(7.25, cb:info().changed_at)
  end)
end)
