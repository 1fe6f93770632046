-- cb:reload(policy [, name]) (SPEC section 10, "Reload"): the breaker
-- switches to another compiled definition keeping its state, counters and
-- timers; the window survives an unchanged kind and size; transitions after
-- the reload speak the new texts; a missing or incompatible definition is
-- nil, err and changes nothing. Runs on every engine path (H.paths). A
-- plain breaker's counters are its name's totals: under the same name they
-- carry on; under another, what it counted stays in the old name's totals and
-- the new name's are reported from then on (doc/lua.md).
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

local function compile(src) return assert(fluxgate.compile(src, "reload.fgp")) end

local V1_SRC = [[
breaker api { window = CountWindow(4) tripper = FailureStreak(3) retry = Cooldown(10s) permit = All() }
breaker other { window = CountWindow(9) tripper = FailureStreak(1) retry = Cooldown(1s) permit = All() }
]]
local V2_SRC = [[
breaker api { window = CountWindow(4) tripper = FailureStreak(2) | FailureRate(90%) retry = Cooldown(20s) permit = All() }
breaker guarded { tracker = Custom("teapot") window = CountWindow(4) tripper = FailureStreak(1) }
breaker unknown { tracker = Custom("nobody_registered_this") tripper = FailureStreak(1) }
]]

-- V1 and V2 for one test, their breakers named api_<n>, other_<n>, ... with
-- an <n> no other test uses: a plain breaker's info().counters are its
-- name's totals (every breaker of that name in this Lua state). Returns V1,
-- V2 and the names (N.api is the name V1 and V2 call api).
local function versions()
  local id = H.fresh_name("reload")
  local N = {}
  local function named(src)
    return compile((src:gsub("breaker (%w+)", function(short)
      N[short] = short .. "_" .. id
      return "breaker " .. N[short]
    end)))
  end
  local v1 = named(V1_SRC)
  return v1, named(V2_SRC), N
end

local function run_on_paths(name, fn)
  for _, use_ffi in ipairs(H.paths()) do
    it(name .. " (" .. H.path_name(use_ffi) .. ")", function() H.with_path(use_ffi, fn) end)
  end
end

describe("cb:reload", function()
  run_on_paths("keeps state, counters, the window and the sequence; new texts after", function()
    local V1, V2, N = versions()
    local c = H.clock(100)
    local cb = assert(V1:breaker(N.api, { clock = c.fn }))
    local signals = {}
    cb:on_transition(function(s) signals[#signals + 1] = s end)
    H.pass(cb, 2)
    H.fail(cb, 1)
    local before = cb:info()
    assert.is_true(cb:reload(V2))
    local after = cb:info()
    assert.are.equal("closed", after.state)
    assert.are.equal(before.generation, after.generation)
    assert.are.equal(2, after.counters.success)
    assert.are.equal(1, after.counters.failure)
    assert.are.equal(3, after.metrics.total_count) -- CountWindow(4) both times: kept
    assert.are.equal(1, after.consecutive_failures)
    H.fail(cb, 1) -- the second in a row: FailureStreak(2) now
    assert.are.equal("open", cb:state())
    assert.are.equal(1, #signals)
    assert.are.equal("FailureStreak(2)", signals[1].reason)
    assert.are.equal(N.api, signals[1].breaker)
    -- the new retry counts from when it opened
    c:advance(15)
    assert.is_not_nil(H.rejection(cb))
    c:advance(5)
    H.pass(cb, 1)
    assert.are.equal("closed", cb:state())
    assert.are.equal("Cooldown(20s)", signals[2].reason)
    assert.are.equal("not (FailureStreak(2) | FailureRate(90%))", signals[3].reason)
  end)

  run_on_paths("takes another definition by name: the window of another size starts empty, "
               .. "the counts so far stay in the old name's totals", function()
    local V1, _, N = versions()
    local cb = assert(V1:breaker(N.api, { clock = H.clock(100).fn }))
    H.fail(cb, 2)
    assert.are.equal(2, cb:info().counters.failure)
    assert.is_true(cb:reload(V1, N.other))
    assert.are.equal(N.other, cb.name)
    assert.are.equal(N.other, cb:info().name)
    assert.are.equal(0, cb:info().metrics.total_count)
    -- its counters are now the new name's, which counts from the reload on;
    -- the old name keeps its 2 failures (its totals never go down)
    local old_name = assert(V1:breaker(N.api))
    assert.are.equal(0, cb:info().counters.failure)
    assert.are.equal(2, old_name:info().counters.failure)
    assert.matches("FailureStreak%(1%)", cb:disassemble())
    H.fail(cb, 1)
    assert.are.equal("open", cb:state())
    assert.are.equal(1, cb:info().counters.failure)
    assert.are.equal(2, old_name:info().counters.failure)
  end)

  run_on_paths("a missing or incompatible definition is nil, err and changes nothing", function()
    local V1, V2, N = versions()
    local cb = assert(V1:breaker(N.api, { clock = H.clock(100).fn }))
    H.fail(cb, 1)
    local ok, err = cb:reload(V2, "nope")
    assert.is_nil(ok)
    assert.matches("no breaker named 'nope'", err)
    ok, err = cb:reload(V2, N.unknown)
    assert.is_nil(ok)
    assert.matches('Custom%("nobody_registered_this"%)', err)
    assert.are.equal(N.api, cb.name)
    assert.are.equal(1, cb:info().counters.failure)
    H.fail(cb, 1)
    assert.are.equal("closed", cb:state()) -- still FailureStreak(3)
    H.fail(cb, 1)
    assert.are.equal("open", cb:state())
    assert.has_error(function() cb:reload("not a policy") end)
    assert.has_error(function() cb.reload(42, V2) end)
  end)

  run_on_paths("Custom() names resolve against the breaker's own predicates", function()
    local V1, V2, N = versions()
    local cb = assert(V1:breaker(N.api, { custom = { teapot = function(o) return o.status == 418 end } }))
    assert.is_true(cb:reload(V2, N.guarded))
    cb:call(function() return { status = 200 } end)
    assert.are.equal("closed", cb:state())
    cb:call(function() return { status = 418 } end)
    assert.are.equal("open", cb:state())
  end)

  run_on_paths("releases a token acquired before a reload that changed the path", function()
    local V1, V2, N = versions()
    local cb = assert(V1:breaker(N.api, { custom = { teapot = function(o) return o.status == 418 end } }))
    local token = assert(cb:acquire())
    assert.is_true(cb:reload(V2, N.guarded))
    cb:release(token, true, 200)
    cb:release(token, true, 200) -- a second release is a no-op
    assert.are.equal(1, cb:info().counters.success)
    -- and classified by the new definition's predicates: LuaJIT's FFI path
    -- cannot run Lua in its record, so it counted 418 as a success
    assert.is_true(cb:reload(V1, N.api))
    local before = assert(cb:acquire())
    assert.is_true(cb:reload(V2, N.guarded))
    cb:release(before, true, 418)
    local c = cb:info().counters
    assert.are.same({ 1, 1, 0 }, { c.success, c.failure, c.ignored })
    assert.are.equal("open", cb:state())
    -- (names of its own: its counters are not cb's names' totals)
    local W1, W2, M = versions()
    local other = assert(W1:breaker(M.api, { custom = { teapot = function(o) return o.status == 418 end } }))
    local in_call
    other:call(function()
      in_call = other:reload(W2, M.guarded) -- the call began on the path before
      return { status = 418 }
    end)
    assert.is_true(in_call)
    c = other:info().counters
    assert.are.same({ 0, 1, 0 }, { c.success, c.failure, c.ignored })
    c = cb:info().counters
    assert.are.same({ 1, 1, 0 }, { c.success, c.failure, c.ignored })
  end)

  run_on_paths("survives collection, repeated reloads and close", function()
    local V1, V2, N = versions()
    local cb = assert(V1:breaker(N.api))
    for i = 1, 20 do
      assert.is_true(cb:reload(i % 2 == 0 and V1 or V2, N.api))
      H.pass(cb, 1)
      collectgarbage()
    end
    assert.are.equal(20, cb:info().counters.success)
    cb:close()
    -- a closed breaker's counts stay in its name's totals
    assert.are.equal(20, assert(V1:breaker(N.api)):info().counters.success)
    assert.has_error(function() cb:reload(V1) end)
  end)

  it("counts the new block in the collector's view", function()
    local V1, _, N = versions()
    local cb = assert(V1:breaker(N.api))
    local before = H.settled_count()
    assert.is_true(cb:reload(compile("breaker big { window = CountWindow(4096) }"), "big"))
    -- a CountWindow(4096) block holds 16 KB of entries
    assert.is_true(H.settled_count() - before > 16)
  end)
end)
