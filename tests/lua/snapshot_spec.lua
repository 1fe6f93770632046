-- cb:snapshot() and cb:restore(s): the engine's versioned little-endian
-- format, byte for byte the same on Lua 5.4 and LuaJIT (the golden string
-- below is checked on both), rebased on the restoring breaker's clock;
-- refusals are nil, err and change nothing; wrong Lua types raise.
-- SPEC.md §10.
local H = dofile("tests/lua/helper.lua")

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- The history of the C golden test, under this spec's name: two successes
-- (0.25 s, 1.5 s), two failures (opens), 2.5 s later one rejection.
-- (Updated with the C golden when the PRNG became SplitMix64: the retry
-- factor, the PRNG words and the checksum changed, not the format.)
-- A plain Lua breaker keeps no counters of its own (it counts into its
-- name's sink): its snapshot sets the flags word at offset 60 to
-- FG_SNAPSHOT_NO_COUNTERS (1) and carries every counter and transition count
-- as zero, whatever else its name counted in this Lua state. (Updated when
-- plain breakers became sink-only: those fields and the checksum changed,
-- nothing else.)
local GOLDEN =
  "4647534e010088019e010000040000003afbcef86562c846020000000001000601000000000000000100000000000000"
  .. "0100000000000000020000000100000000000000000004c00751a6ab1f7eed3faaea35afdfab0e5c4647534d36340000"
  .. "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
  .. "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
  .. "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
  .. "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
  .. "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
  .. "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
  .. "0000000000000000676f6c64656e0000000000000000574d0ffb337f82b9"

local function spec(clk, extra)
  local s = { window = "CountWindow(4)",
              tripper = "MinRequests(3) & SlowRate(60%, threshold = 1s) | FailureStreak(2)",
              retry = "Cooldown(30s, jitter_ratio = 0.25)", max_half_open_calls = 2,
              clock = clk.fn, seed = 42 }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

local function history(cb, clk)
  assert.is_true(cb:call(function() clk:advance(0.25); return true end))
  assert.is_true(cb:call(function() clk:advance(1.5); return true end))
  H.fail(cb, 2)
  assert.are.equal("open", cb:state())
  clk:advance(2.5)
  assert.is_not_nil(H.rejection(cb))
end

for _, use_ffi in ipairs(H.paths()) do
  describe("snapshots (" .. H.path_name(use_ffi) .. ")", function()
    local function new(s, name) local cb; H.with_path(use_ffi, function() cb = H.new(s, name) end); return cb end

    it("are the same bytes on every interpreter for the same history", function()
      local clk = H.clock(100)
      local cb = new(spec(clk), "golden")
      history(cb, clk)
      local s = cb:snapshot()
      assert.are.equal("string", type(s))
      assert.are.equal(GOLDEN, hex(s))
      -- the name's totals, which info() reports, are not in it
      assert.is_true(cb:info().counters.admitted >= 4)
      assert.are.equal(1, s:byte(61)) -- FG_SNAPSHOT_NO_COUNTERS
    end)

    -- A plain breaker's counters are its name's totals, which never go
    -- down: its snapshot carries none and a restore sets none. (The names
    -- are the test's own; a snapshot restores into a breaker of another name.)
    it("restore days later with the same remaining cooldown, window and sequence; counters stay the name's", function()
      local clk = H.clock(100)
      local heard = 0
      local cb = new(spec(clk), H.fresh_name("snapshot_from"))
      history(cb, clk)
      local later = H.clock(100 + 3 * 86400)
      local other = new(spec(later, { seed = 7, listeners = { function() heard = heard + 1 end } }),
                        H.fresh_name("snapshot_into"))
      H.pass(other, 1)
      local counted = other:info().counters
      assert.are.same({ success = 1, failure = 0, ignored = 0, rejected = 0, admitted = 1, stale = 0,
                        lease_expired = 0 }, counted)
      assert.are.equal(true, other:restore(cb:snapshot()))
      assert.are.equal(0, heard) -- a restore is not a transition
      local a, b = cb:info(), other:info()
      assert.are.equal(a.state, b.state)
      assert.are.same({ success = 2, failure = 2, ignored = 0, rejected = 1, admitted = 4, stale = 0,
                        lease_expired = 0 }, a.counters)
      assert.are.same(counted, b.counters) -- unchanged by the restore
      assert.are.equal(a.transitions, b.transitions)
      assert.are.equal(a.consecutive_failures, b.consecutive_failures)
      assert.are.equal(a.changed_at - clk.now, b.changed_at - later.now)
      assert.are.same(a.metrics, b.metrics)
      local ra, rb = H.rejection(cb).retry_after, H.rejection(other).retry_after
      assert.is_true(ra > 20 and math.abs(ra - rb) < 1e-9)
      -- open until the same moment, then the first call moves both to half_open
      clk:advance(ra - 1e-6); later:advance(rb - 1e-6)
      H.rejection(cb); H.rejection(other)
      assert.are.equal("open", cb:state())
      assert.are.equal("open", other:state())
      clk:advance(1e-6); later:advance(1e-6)
      H.rejection(cb); H.rejection(other)
      assert.are.equal("half_open", cb:state())
      assert.are.equal("half_open", other:state())
    end)

    it("a refused snapshot is nil, err and changes nothing", function()
      local clk = H.clock(100)
      local cb = new(spec(clk), "golden")
      history(cb, clk)
      local s = cb:snapshot()
      local other = new(spec(clk, { tripper = "FailureStreak(5)" }), "other")
      local before = other:snapshot()
      local ok, err = other:restore(s)
      assert.is_nil(ok)
      assert.matches("another definition", err)
      assert.matches("golden", err)
      ok, err = cb:restore(s:sub(1, -2))
      assert.is_nil(ok)
      assert.matches("truncated", err)
      local flipped = s:sub(1, 40) .. string.char((s:byte(41) + 1) % 256) .. s:sub(42)
      ok, err = cb:restore(flipped)
      assert.is_nil(ok)
      assert.matches("checksum", err)
      assert.is_nil((cb:restore("")))
      assert.are.equal(before, other:snapshot())
      assert.are.equal(s, cb:snapshot())
    end)

    it("calls admitted before a restore are stale", function()
      local clk = H.clock(100)
      local cb = new(spec(clk), H.fresh_name("snapshot_stale"))
      local s = cb:snapshot()
      local token = assert(cb:acquire())
      assert.are.equal(true, cb:restore(s))
      cb:release(token, nil, "boom")
      local info = cb:info()
      assert.are.equal(0, info.metrics.total_count)
      assert.are.equal(1, info.counters.stale)
    end)

    it("wrong Lua types raise", function()
      local cb = new(spec(H.clock(100)), "golden")
      assert.has_error(function() cb:restore(42) end, "bad argument #1 to 'restore' (string expected, got number)")
      assert.has_error(function() cb:restore() end)
      assert.has_error(function() cb.snapshot({}) end)
      cb:close()
      assert.has_error(function() cb:snapshot() end)
    end)
  end)
end
