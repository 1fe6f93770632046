-- The lean binding (issues 9, 11 and 12): cb:close, the full info(), the
-- clock option, transitions in sequence order, strict result tables,
-- refusing NULs and malformed options, errors that name the user's call,
-- Prometheus counters that never decrease, and what a breaker weighs.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

for _, use_ffi in ipairs(H.paths()) do
  local function new(spec, name)
    local cb; H.with_path(use_ffi, function() cb = H.new(spec, name) end); return cb
  end

  describe("cb:close (" .. H.path_name(use_ffi) .. ")", function()
    it("is public, idempotent, and later calls raise a clear error", function()
      local cb = new(nil, "closing")
      cb:call(function() end)
      cb:close()
      cb:close()
      for _, use in ipairs({ function() cb:call(print) end, function() cb:acquire() end,
                             function() cb:state() end, function() cb:info() end,
                             function() cb:reset() end, function() cb:call_with_fallback(print, print) end,
                             function() cb:on_transition(print) end }) do
        local ok, err = pcall(use)
        assert.is_false(ok)
        assert.matches("breaker 'closing' is closed", err, 1, true)
      end
    end)

    it("a token of a closed breaker is refused", function()
      local cb = new()
      local t = assert(cb:acquire())
      cb:close()
      assert.has_error(function() cb:release(t, true) end)
    end)
  end)

  describe("cb:info (" .. H.path_name(use_ffi) .. ")", function()
    it("has the counters, consecutive failures, generation, half-open in flight and the clock", function()
      local clk = H.clock()
      -- counters are the name's totals: a name no other test uses
      local name = H.fresh_name("binding_info")
      local cb = new({ tripper = "FailureStreak(2)", retry = "Cooldown(1)", permit = "All()",
                       tracker = 'TypeOf("x")', clock = clk.fn }, name)
      H.pass(cb, 2)
      H.fail(cb, 1, { type = "y" }) -- untracked: ignored
      H.fail(cb, 1, { type = "x" })
      local info = cb:info()
      assert.are.equal(1, info.consecutive_failures)
      assert.are.same({ success = 2, failure = 1, ignored = 1, rejected = 0, admitted = 4, stale = 0,
                        lease_expired = 0 }, info.counters)
      -- a second breaker of that name counts into the same totals, and both report them
      local twin = new({ clock = clk.fn }, name)
      assert.are.same(info.counters, twin:info().counters)
      H.pass(twin, 1)
      local summed = { success = 3, failure = 1, ignored = 1, rejected = 0, admitted = 5, stale = 0,
                       lease_expired = 0 }
      assert.are.same(summed, cb:info().counters)
      assert.are.same(summed, twin:info().counters)
      -- while the state and the window stay each breaker's own
      assert.are.equal(1, cb:info().consecutive_failures)
      assert.are.equal(0, twin:info().consecutive_failures)
      assert.are.equal(3, cb:info().metrics.total_count) -- the ignored call is not in the window
      assert.are.equal(1, twin:info().metrics.total_count)
      H.fail(cb, 1, { type = "x" }) -- opens
      assert.is_not_nil(H.rejection(cb))
      clk:advance(2)
      local t = assert(cb:acquire()) -- half_open probe
      info = cb:info()
      assert.are.equal("half_open", info.state)
      assert.are.equal(1, info.half_open_in_flight)
      assert.are.equal(2, info.generation)
      assert.are.equal(1, info.counters.rejected)
      assert.are.equal(7, info.counters.admitted) -- 5 + the failure that opened + the probe
      assert.are.equal("custom", info.clock)
      cb:release(t, true)
      assert.are.equal("closed", cb:info().state)
      -- SPEC 7's fields stay
      assert.are.equal(name, info.name)
      assert.is_number(info.changed_at)
      assert.are.equal(0, info.reopens)
      assert.is_table(info.metrics)
    end)
  end)

  describe("transitions in order (" .. H.path_name(use_ffi) .. ")", function()
    it("a listener that resets on closed->open: the next listener hears closed->open first", function()
      local heard = {}
      local cb
      cb = new({ tripper = "FailureStreak(1)", listeners = {
        function(s) if s.new_state == "open" then cb:reset() end end,
        function(s) heard[#heard + 1] = s.old_state .. ">" .. s.new_state .. "#" .. s.sequence end,
      } })
      H.fail(cb, 1)
      assert.are.same({ "closed>open#1", "open>closed#2" }, heard)
      assert.are.equal("closed", cb:state())
    end)

    it("more transitions than the old 8-entry queue held are all delivered, each once", function()
      local seen = {}
      local cb
      local n = 0
      cb = new({ tripper = "FailureStreak(1)", listeners = { function(s)
        seen[#seen + 1] = s.sequence
        n = n + 1
        if n < 40 then cb:force_open(); cb:reset() end
      end } })
      cb:disable()
      local want = {}
      for i = 1, #seen do want[i] = i end
      assert.are.same(want, seen)
      assert.is_true(#seen >= 40)
      assert.are.equal(#seen, cb:info().transitions)
    end)
  end)

  describe("sequence numbers are the engine's (" .. H.path_name(use_ffi) .. ")", function()
    it("a listener added late hears the breaker's own count, as info().transitions says", function()
      local cb = new({ tripper = "FailureStreak(1)" })
      H.fail(cb, 1)      -- closed -> open (#1), nobody listens
      cb:reset()         -- open -> closed (#2)
      assert.are.equal(2, cb:info().transitions)
      local heard = {}
      cb:on_transition(function(s) heard[#heard + 1] = s.new_state .. "#" .. s.sequence end)
      H.fail(cb, 1)      -- #3
      cb:disable()       -- #4
      assert.are.same({ "open#3", "disabled#4" }, heard)
      assert.are.equal(4, cb:info().transitions)
    end)
  end)

  describe("strict result tables (" .. H.path_name(use_ffi) .. ")", function()
    local Strict = { __index = function(_, k) error("strict table: no field " .. tostring(k)) end }

    it("a call returning one succeeds, is recorded and frees the half-open slot", function()
      local clk = H.clock()
      local cb = new({ tripper = "FailureStreak(1)", retry = "Cooldown(1)", permit = "All()",
                       max_half_open_calls = 1, clock = clk.fn }, H.fresh_name("binding_strict"))
      H.fail(cb, 1)
      clk:advance(2)
      local strict = setmetatable({}, Strict)
      local r, extra = cb:call(function() return strict, 7 end)
      assert.are.equal(strict, r)
      assert.are.equal(7, extra)
      assert.are.equal("closed", cb:state())
      assert.are.equal(1, cb:info().counters.success)
      assert.are.equal(strict, cb:call_with_fallback(function() return strict end, function() return "fb" end))
      assert.are.equal(2, cb:info().counters.success)
    end)

    it("release with one records a success", function()
      local cb = new(nil, H.fresh_name("binding_strict_release"))
      cb:release(cb:acquire(), true, setmetatable({}, Strict))
      assert.are.equal(1, cb:info().counters.success)
    end)
  end)

  describe("errors name the user's call (" .. H.path_name(use_ffi) .. ")", function()
    it("release with a bad token", function()
      local cb = new()
      local ok, err = pcall(cb.release, cb, {}, true)
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'release'", err, 1, true)
      assert.is_nil(err:find("c_release", 1, true))
    end)

    it("cb.call(...) instead of cb:call(...) gets a hint", function()
      local cb = new()
      for _, m in ipairs({ "call", "acquire", "state", "call_with_fallback" }) do
        local ok, err = pcall(cb[m], function() end)
        assert.is_false(ok)
        assert.matches("cb:" .. m .. "(...), not cb." .. m .. "(...)", err, 1, true)
      end
    end)

    it("call with something that is not a function", function()
      local cb = new()
      local ok, err = pcall(cb.call, cb, 42)
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'call' (function expected, got number)", err, 1, true)
    end)

    it("a breaker's methods refuse a family, a policy, a token or a file as self; a family's a breaker", function()
      local cb = new()
      local policy = assert(fluxgate.compile("breaker svc { window = CountWindow(10) tripper = FailureStreak(5) }"))
      local fam
      H.with_path(use_ffi, function() fam = assert(policy:family("svc")) end)
      for _, v in ipairs({ fam, policy._ud, cb:acquire(), io.stdout }) do
        for _, m in ipairs({ "call", "acquire", "release", "state" }) do
          local ok, err = pcall(cb[m], v, function() end)
          assert.is_false(ok)
          assert.matches(("bad self to '%s' (a fluxgate breaker expected, got %s)"):format(m, type(v)), err, 1, true)
        end
      end
      for _, m in ipairs({ "call", "acquire", "release" }) do
        local ok, err = pcall(fam[m], cb, "k")
        assert.is_false(ok)
        assert.matches(("bad self to '%s' (a fluxgate family expected, got userdata)"):format(m), err, 1, true)
      end
    end)
  end)
end

-- The C functions tell a breaker by a tag in its memory (fluxgate_lua.h,
-- fgl_to_marked), not by its class: another userdata given a breaker's
-- class with debug.setmetatable is still refused, never read as a breaker.
describe("a userdata dressed as a breaker (classic path)", function()
  it("is refused by every C function it reaches", function()
    local cb; H.with_path(false, function() cb = H.new() end)
    local file = io.tmpfile()
    local own = debug.getmetatable(file)
    debug.setmetatable(file, getmetatable(cb))
    local results = {}
    for _, m in ipairs({ "call", "call_with_fallback", "acquire", "state", "info", "reset" }) do
      results[m] = { pcall(cb[m], file, function() end, function() end) }
    end
    results.release = { pcall(cb.release, file, cb:acquire(), true) }
    debug.setmetatable(file, own)
    file:close()
    for m, r in pairs(results) do -- (LuaJIT's classic call_with_fallback admits through the C 'call')
      assert.is_false(r[1], m)
      assert.matches("bad self to '[%w_]+' %(a fluxgate breaker expected, got userdata%)", r[2])
    end
  end)

  it("and so is one dressed as a family", function()
    local fam
    H.with_path(false, function()
      fam = assert(assert(fluxgate.compile("breaker svc { tripper = FailureStreak(5) }")):family("svc"))
    end)
    local file = io.tmpfile()
    local own = debug.getmetatable(file)
    debug.setmetatable(file, getmetatable(fam))
    local ok, err = pcall(fam.acquire, file, "k")
    debug.setmetatable(file, own)
    file:close()
    assert.is_false(ok)
    assert.matches("bad self to '[%w_]+' %(a fluxgate family expected, got userdata%)", err)
  end)
end)

-- The engine honours clock kinds once branch core's fg_clock_kind lands;
-- until then it reads CLOCK_MONOTONIC whatever is asked, and says so.
local engine_has_clock_kinds = H.new({ clock = "coarse" }):info().clock == "coarse"

describe("the clock option", function()
  local it_kinds = engine_has_clock_kinds and it or pending
  it_kinds("takes \"coarse\" and \"precise\", and info() names the clock in use", function()
    assert.are.equal("coarse", H.new({ clock = "coarse" }):info().clock)
    assert.are.equal("precise", H.new({ clock = "precise" }):info().clock)
    assert.are.equal("custom", H.new({ clock = function() return 1 end }):info().clock)
    local auto = H.new({ window = "TimeWindow(10)" }):info().clock
    assert.is_true(auto == "coarse" or auto == "precise", auto)
  end)

  it("a forced clock is accepted, and info() names a clock", function()
    for _, kind in ipairs({ "coarse", "precise" }) do
      local clock = H.new({ clock = kind }):info().clock
      assert.is_true(clock == "coarse" or clock == "precise", clock)
    end
    assert.are.equal("custom", H.new({ clock = function() return 1 end }):info().clock)
  end)

  it("refuses other strings", function()
    assert.has_error(function() fluxgate.breaker("t", { clock = "sundial" }) end)
  end)
end)

describe("NUL bytes are refused, never cut", function()
  it("in expression strings", function()
    local cb, err = fluxgate.breaker("t", { tripper = "FailureStreak(1)\0 | junk" })
    assert.is_nil(cb)
    assert.matches("^tripper:1:17: error: NUL byte", err)
  end)

  it("in names given to fluxgate.breaker", function()
    local cb, err = fluxgate.breaker("a\0b")
    assert.is_nil(cb)
    assert.matches("NUL byte", err, 1, true)
  end)

  it("in names given to policy:breaker", function()
    local p = assert(fluxgate.compile("breaker a {}"))
    local cb, err = p:breaker("a\0junk")
    assert.is_nil(cb)
    assert.matches("NUL byte", err, 1, true)
  end)

  it("in Custom() predicate names (register, opts.custom): cut, 'x\\0y' would answer Custom(\"x\")", function()
    local ok, err = pcall(fluxgate.register, "nul_x\0junk", function() return true end)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'register' (a name without NUL bytes expected)", err, 1, true)
    ok, err = pcall(fluxgate.breaker, "t", { tracker = 'Custom("nul_x")', custom = { ["nul_x\0junk"] = print } })
    assert.is_false(ok)
    assert.matches("field 'custom' of spec has a name with a NUL byte", err, 1, true)
    local cb, why = fluxgate.breaker("t", { tracker = 'Custom("nul_x")' })
    assert.is_nil(cb, "nothing answers Custom(\"nul_x\")")
    assert.matches('Custom("nul_x")', why, 1, true)
  end)

  it("in paths and chunk names (the C side would stop at the NUL: another file, a cut name)", function()
    local ok, err = pcall(fluxgate.load, "policies/payment.fgp\0.bak")
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'load' (a path without NUL bytes expected)", err, 1, true)
    ok, err = pcall(fluxgate.compile, "breaker a {}", "a\0b")
    assert.is_false(ok)
    assert.matches("bad argument #2 to 'compile' (a chunk name without NUL bytes expected)", err, 1, true)
    local p = assert(fluxgate.compile("breaker a {}"))
    ok, err = pcall(p.shared_breaker, p, "a", { zone = "z", dir = "/tmp\0/x" })
    assert.is_false(ok)
    assert.matches("field 'dir' of opts must be a directory path without NUL bytes", err, 1, true)
  end)
end)

describe("malformed options", function()
  it("listeners as a map or with holes are refused", function()
    assert.has_error(function() fluxgate.breaker("t", { listeners = { on_change = print } }) end)
    assert.has_error(function() fluxgate.breaker("t", { listeners = { [2] = print } }) end)
    assert.has_error(function() fluxgate.breaker("t", { listeners = { print, nil, print } }) end)
  end)

  it("NaN and infinities for max_half_open_calls and half_open_lease are clean errors", function()
    for _, v in ipairs({ 0 / 0, math.huge, -math.huge }) do
      for _, field in ipairs({ "max_half_open_calls", "half_open_lease" }) do
        local cb, err = fluxgate.breaker("t", { [field] = v })
        assert.is_nil(cb)
        assert.matches("^" .. field .. ":1:1: error: expected a finite number", err)
        if v ~= v then assert.matches("got nan$", err) end
      end
    end
    -- family options say "nan" too (0/0 prints "-nan" on x86 under Lua 5.4)
    local p = assert(fluxgate.compile("breaker t {}"))
    for _, field in ipairs({ "max_keys", "idle", "lease" }) do
      local ok, err = pcall(p.family, p, "t", { [field] = 0 / 0 })
      assert.is_false(ok)
      assert.matches("field '" .. field .. "' of opts must be .*, not nan$", err)
    end
  end)

  it("no breaker named 'x' lists the names there are", function()
    local p = assert(fluxgate.compile("breaker a {}\nbreaker b {}", "two.fgp"))
    local cb, err = p:breaker("x")
    assert.is_nil(cb)
    assert.matches("no breaker named 'x'; it defines 'a', 'b'", err, 1, true)
  end)
end)

describe("seeds", function()
  local function draws(seed) return (H.seeded_admissions(seed)) end

  it("negative seeds differ from seed 0 and from each other", function()
    assert.are_not.equal(draws(0), draws(-1))
    assert.are_not.equal(draws(-1), draws(-2))
    assert.are.equal(draws(-5), draws(-5))
  end)

  it("2^63 and 1.5e19 are seeds (the uint64 the C API takes)", function()
    assert.are.equal(draws(2 ^ 63), draws(2 ^ 63))
    assert.are_not.equal(draws(2 ^ 63), draws(1.5e19))
  end)

  it("a seed of 2^64 or more is a clear error", function()
    local ok, err = pcall(fluxgate.breaker, "t", { seed = 2 ^ 64 })
    assert.is_false(ok)
    assert.matches("seed", err, 1, true)
    assert.is_nil(err:find("representation", 1, true))
  end)
end)

describe("prometheus counters never decrease", function()
  it("a collected or closed breaker's counters stay in its name's totals", function()
    local p = assert(fluxgate.compile("breaker prom_total {}"))
    local function calls()
      local text = fluxgate.prometheus()
      return tonumber(text:match('circuit_breaker_calls_total{circuit_name="prom_total",outcome="success"} (%d+)'))
    end
    local keep = assert(p:breaker("prom_total"))
    do
      for _ = 1, 3 do
        local cb = assert(p:breaker("prom_total"))
        cb:call(function() end)
      end
    end
    keep:call(function() end)
    keep:call(function() end)
    assert.are.equal(5, calls())
    collectgarbage(); collectgarbage()
    assert.are.equal(5, calls())
    keep:close()
    assert.are.equal(5, calls())
    assert.is_nil(fluxgate.prometheus():find('circuit_breaker_state{circuit_name="prom_total"', 1, true))
  end)
end)

describe("memory", function()
  local core = require("fluxgate.core")

  -- Lua heap per breaker of p's definition "m", kept in an array.
  local function heap_per_breaker(p, n)
    local keep = {}
    local before = H.settled_count()
    for i = 1, n do keep[i] = assert(p:breaker("m")) end
    local per = (H.settled_count() - before) * 1024 / n
    assert(#keep == n)
    return per
  end

  it("collectgarbage sees all of a breaker: the engine's handle and block live in its userdata", function()
    local p = assert(fluxgate.compile("breaker m { window = CountWindow(10) tripper = FailureStreak(5) }"))
    local block, handle = core.policy_footprint(p._ud, 0)
    assert.is_true(block > 0 and handle > 0)
    local per = heap_per_breaker(p, 2000)
    assert.is_true(per >= block + handle, ("engine memory is counted: %.0f B for %d + %d B"):format(per, block, handle))
    -- the binding's own share (its struct, the userdata header, the array
    -- slot, the 56 bytes that let the block start a cache line) stays small
    assert.is_true(per - block - handle <= 232, ("binding overhead %.0f B"):format(per - block - handle))
    -- and so the issue's 1 KiB target holds whenever the engine's parts fit in 792 B
    if block + handle <= 792 then assert.is_true(per <= 1024, "at most 1 KiB per breaker: " .. per) end
  end)

  it("a plain breaker's block starts a cache line, and so does a reloaded one's", function()
    local p = assert(fluxgate.compile("breaker m { window = CountWindow(10) tripper = FailureStreak(5) }\n" ..
                                      "breaker n { window = TimeWindow(10) tripper = FailureRate(50%) }"))
    local keep = {}
    for i = 1, 64 do
      keep[i] = assert(p:breaker(i % 2 == 0 and "m" or "n"))
      keep[-i] = {} -- Lua objects between them, so that they fall at other addresses
      for j = 1, i do keep[-i][j] = j end
      assert.equals(0, core.block_address(keep[i]) % 64)
    end
    for i = 1, 8 do
      assert(keep[i]:reload(p, i % 2 == 0 and "n" or "m"))
      assert.equals(0, core.block_address(keep[i]) % 64)
      assert.is_truthy(keep[i]:call(function() return true end))
    end
  end)

  it("a bigger window is a bigger userdata, and the collector frees it", function()
    local small = assert(fluxgate.compile("breaker m { window = CountWindow(10) }"))
    local big = assert(fluxgate.compile("breaker m { window = CountWindow(5000) }"))
    local b_small = core.policy_footprint(small._ud, 0)
    local b_big = core.policy_footprint(big._ud, 0)
    assert.is_true(b_big > b_small)
    local per_big = heap_per_breaker(big, 50)
    assert.is_true(per_big >= b_big, per_big .. " >= " .. b_big)
    local before = H.settled_count()
    for _ = 1, 200 do assert(big:breaker("m")) end
    assert.is_true((H.settled_count() - before) * 1024 < b_big, "dropped breakers are freed")
  end)
end)

describe("breaker names", function()
  it("an empty name is refused, in the policy language and in fluxgate.breaker", function()
    local cb, err = fluxgate.breaker("")
    assert.is_nil(cb)
    assert.matches("name:1:1: error: breaker name is empty", err, 1, true)
    cb, err = fluxgate.breaker("", { window = "CountWindow(5)" })
    assert.is_nil(cb)
    assert.matches("breaker name is empty", err, 1, true)
    local p, perr = fluxgate.compile('breaker ok { }\nbreaker "" { }')
    assert.is_nil(p)
    assert.matches("policy:2:9: error: breaker name is empty", perr, 1, true)
    p, perr = fluxgate.compile('breaker a { tracker = Custom("") }')
    assert.is_nil(p)
    assert.matches("policy:1:30: error: Custom() name is empty", perr, 1, true)
  end)

  it("a name that is not valid UTF-8 is refused, with the offset of the bad byte", function()
    for _, case in ipairs({
      { "caf\xe9!", 4, "invalid UTF-8" },       -- a lead byte followed by ASCII
      { "ok\xe2\x82", 3, "truncated UTF-8" },   -- cut in the middle of a sequence
      { "\xc0\xaf", 1, "invalid UTF-8" },       -- overlong
      { "x\xed\xa0\x80", 2, "invalid UTF-8" }, -- a surrogate
      { "\xff", 1, "invalid UTF-8" },
    }) do
      local cb, err = fluxgate.breaker(case[1])
      assert.is_nil(cb)
      assert.matches(case[3] .. " in the breaker name at byte " .. case[2], err, 1, true)
    end
  end)

  it("a policy file's quoted name is checked when a breaker is made from it", function()
    local p = assert(fluxgate.compile('breaker "caf\xe9" {}\nbreaker "caf\xc3\xa9" {}'))
    local cb, err = p:breaker("caf\xe9")
    assert.is_nil(cb)
    assert.matches("UTF-8 in the breaker name at byte 4", err, 1, true)
    local ok = assert(p:breaker("caf\xc3\xa9"))
    assert.are.equal("caf\xc3\xa9", ok.name)
  end)

  it("valid UTF-8 names are kept as they are, and a NUL is refused with its offset", function()
    assert.are.equal("\xe2\x82\xac\xf0\x9f\x98\x80", H.new({}, "\xe2\x82\xac\xf0\x9f\x98\x80").name)
    local cb, err = fluxgate.breaker("ab\0c")
    assert.is_nil(cb)
    assert.matches("name:1:3: error: NUL byte", err, 1, true)
    cb, err = assert(fluxgate.compile("breaker a {}")):breaker("a\0")
    assert.is_nil(cb)
    assert.matches("NUL byte", err, 1, true)
  end)
end)
