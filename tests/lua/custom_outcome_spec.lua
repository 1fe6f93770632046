-- The outcome table a Custom() predicate receives (SPEC section 7) must not
-- depend on the path a call takes: Lua 5.4's per-breaker closures build it
-- lazily in C, only when a predicate runs; the generic protocol builds it in
-- Lua before every release; LuaJIT's breakers with Custom() take the generic
-- protocol. Each scenario runs on every path available and the tables (and
-- what the predicates made of them) must be the same.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

-- The values a scenario returns or raises: the same objects on every path,
-- so that the tables can be compared field by field.
local V = {
  response = { status = 503 },
  proxied = setmetatable({}, { __index = function(_, k) if k == "status" then return 502 end end }),
  fractional = { status = 503.5 },
  huge = { status = 1e300 },
  text_status = { status = "503" },
  typed = { type = "Timeout", message = "too slow", status = 504 },
  named = { name = "Refused", msg = "no route" },
  returned = { type = "Gone", status = 410 },
}

local scenarios = {
  { "a result table with a status", function(cb) cb:call(function() return V.response end) end },
  { "a result table read through its metatable", function(cb) cb:call(function() return V.proxied end) end },
  { "a fractional status", function(cb) cb:call(function() return V.fractional end) end },
  { "a status out of range", function(cb) cb:call(function() return V.huge end) end },
  { "a status that is a string", function(cb) cb:call(function() return V.text_status end) end },
  { "a number result (not a status for cb:call)", function(cb) cb:call(function() return 7 end) end },
  { "no results", function(cb) cb:call(function() end) end },
  { "nil, e with a string", function(cb) cb:call(function() return nil, "refused" end) end },
  { "nil, e with a table", function(cb) cb:call(function() return nil, V.returned end) end },
  { "a raised string with a position", function(cb) pcall(cb.call, cb, function() error("x.lua:1: timeout", 0) end) end },
  { "a raised table", function(cb) pcall(cb.call, cb, function() error(V.typed) end) end },
  { "a raised table with name and msg", function(cb) pcall(cb.call, cb, function() error(V.named) end) end },
  { "a raised number", function(cb) pcall(cb.call, cb, function() error(42) end) end },
  { "call_with_fallback, raised", function(cb)
      cb:call_with_fallback(function() error(V.typed) end, function() end) end },
  { "call_with_fallback, a result", function(cb)
      cb:call_with_fallback(function() return V.response end, function() end) end },
  { "release with a number", function(cb) cb:release(cb:acquire(), true, 503) end },
  { "release with a table", function(cb) cb:release(cb:acquire(), true, V.response) end },
  { "release with a table read through its metatable", function(cb) cb:release(cb:acquire(), true, V.proxied) end },
  { "release with nothing", function(cb) cb:release(cb:acquire(), true) end },
  { "release of a string error", function(cb) cb:release(cb:acquire(), false, "y.lua:9: reset") end },
  { "release of a table error", function(cb) cb:release(cb:acquire(), false, V.typed) end },
}

-- Every path this interpreter has for a breaker with Custom() predicates:
-- one, the classic C API (cb:call in C on Lua 5.4, in Lua around C admit and
-- record under LuaJIT); the scenarios still compare cb:call, call_with_fallback
-- and release on it.
local function paths()
  return { { name = "classic C API" } }
end

-- Runs a scenario on a fresh breaker; returns the tables the predicate saw
-- (copied) and the window's counts.
local function run(_, scenario)
  local seen = {}
  local cb = H.new({ tracker = 'Custom("spy") | Custom("bad")',
                     tripper = "MinRequests(1000) & FailureRate(1)",
                     custom = {
                       spy = function(o)
                         local copy = {}
                         for k, v in pairs(o) do copy[k] = v end
                         seen[#seen + 1] = copy
                         seen.last = o
                         return false
                       end,
                       -- the same table for every predicate of one evaluation
                       bad = function(o) seen[#seen + 1] = o == seen.last; return o.ok == false end,
                     } })
  scenario(cb)
  local m = cb:info().metrics
  return seen, { m.total_count, m.failure_count }
end

describe("the outcome table of Custom() predicates", function()
  for _, s in ipairs(scenarios) do
    it("is the same on every path: " .. s[1], function()
      local reference, reference_counts
      for _, path in ipairs(paths()) do
        local seen, counts = run(path.fast, s[2])
        assert.are.equal(2, #seen, path.name .. ": both predicates ran")
        assert.is_table(seen[1])
        assert.is_true(seen[2], path.name .. ": one table for both predicates of the evaluation")
        if reference == nil then
          reference, reference_counts = seen, counts
        else
          assert.are.same(reference[1], seen[1], path.name)
          assert.are.same(reference_counts, counts, path.name)
          for k, v in pairs(reference[1]) do
            if type(v) == "table" then assert.are.equal(v, seen[1][k], path.name .. ": the very value " .. k) end
          end
        end
      end
    end)
  end

  it("holds what SPEC section 7 lists", function()
    for _, path in ipairs(paths()) do
      local seen = run(path.fast, function(cb)
        cb:call(function() return V.response end)
      end)
      assert.are.same({ ok = true, result = V.response, status = 503 }, seen[1], path.name)
      seen = run(path.fast, function(cb) pcall(cb.call, cb, function() error("x.lua:1: timeout", 0) end) end)
      assert.are.same({ ok = false, error = "x.lua:1: timeout", type = "timeout", message = "x.lua:1: timeout" },
                      seen[1], path.name)
      seen = run(path.fast, function(cb) cb:release(cb:acquire(), false, V.typed) end)
      assert.are.same({ ok = false, error = V.typed, type = "Timeout", message = "too slow", status = 504 },
                      seen[1], path.name)
    end
  end)

  it("is not built when no predicate runs", function()
    for _, path in ipairs(paths()) do
      local calls = 0
      local cb = H.new({ tracker = 'TypeOf("known") | Custom("count")', tripper = "FailureStreak(3)",
                         custom = { count = function() calls = calls + 1; return true end } })
      H.fail(cb, 2, { type = "known" }) -- TypeOf matches first: `|` short-circuits
      assert.are.equal(0, calls, path.name)
      H.fail(cb, 1, { type = "other" })
      assert.are.equal(1, calls, path.name)
      assert.are.equal("open", cb:state(), path.name)
    end
  end)
end)
