-- policy:family(name, opts): breakers of one definition per key, made on
-- first use (lua/fluxgate/family.lua over the engine's fg_family). Every
-- scenario runs on each engine path (LuaJIT: FFI and classic).
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

local POLICY = [[
breaker player {
    window  = CountWindow(10)
    tracker = TypeOf("timeout") | Status(500..599)
    tripper = FailureStreak(2)
    retry   = Cooldown(5s, jitter_ratio = 0.5)
    max_half_open_calls = 1
}
]]
local policy = assert(fluxgate.compile(POLICY, "family_spec"))

local function boom() error({ type = "timeout", message = "slow" }) end
local function ok() return "fine" end

local function trip(fam, key)
  for _ = 1, 2 do assert.is_false((pcall(fam.call, fam, key, boom))) end
  assert.are.equal("open", fam:state(key))
end

local function family(opts)
  local fam, err = policy:family("player", opts)
  assert(fam, err)
  return fam
end

local function on_family_ffi(fam)
  local paths = H.engine_paths.family
  return paths.Ffi ~= nil and getmetatable(fam).__index.call == paths.Ffi.call
end

for _, use_ffi in ipairs(H.paths()) do
  local function it_(name, fn) it(name .. " (" .. H.path_name(use_ffi) .. ")", function() H.with_path(use_ffi, fn) end) end

  describe("a family", function()
    it_("takes the engine path asked for", function()
      assert.are.equal(use_ffi, on_family_ffi(family()))
    end)

    it_("makes a key's breaker on first use and lists keys, most recently used first", function()
      local fam = family()
      assert.are.equal(0, fam:size())
      assert.are.same({}, fam:keys())
      assert.are.equal("fine", fam:call("alice", ok))
      assert.are.equal(7, fam:call("bob", function(x) return x end, 7))
      assert.is_nil(fam:state("carol"), "a key never used has no breaker")
      assert.are.equal(2, fam:size())
      assert.are.same({ "bob", "alice" }, fam:keys())
      fam:call("alice", ok)
      assert.are.same({ "alice", "bob" }, fam:keys())
      assert.are.equal("player", fam.name)
    end)

    it_("takes integers as keys, as their decimal text, and refuses other values", function()
      local fam = family()
      fam:call(42, ok)
      assert.are.same({ "42" }, fam:keys())
      fam:call("42", ok)
      assert.are.equal(1, fam:size())
      assert.are.equal(2, fam:info(42).counters.success)
      assert.has_error(function() fam:call(1.5, ok) end)
      assert.has_error(function() fam:call({}, ok) end)
      assert.has_error(function() fam:get(true) end)
      -- one wording on every path and interpreter, naming the method (Lua
      -- 5.4's C functions said "bad argument #1 (...)", and 1.5 as 1.500000)
      local function says(fname, what, ...)
        local done, e = pcall(fam[fname], fam, ...)
        assert.is_false(done)
        assert.matches("bad argument #1 to '" .. fname .. "' (a family key is a string or an integer, got " .. what .. ")",
                       e, 1, true)
      end
      for _, fname in ipairs({ "call", "call_with_fallback", "acquire", "get", "state", "info", "reset" }) do
        says(fname, "the number 1.5", 1.5, ok, ok)
        says(fname, "nil", nil, ok, ok)
        says(fname, "table", {}, ok, ok)
      end
      assert.are.equal("fine", fam:call("after", ok), "a refused key leaves the family usable")
    end)

    it_("finds every integer key it makes: Lua 5.4's beyond 2^53 too, by every method", function()
      local fam = family()
      local keys = { 2^53, -2^53 }
      if math.type then -- Lua 5.4's integers: fam:call took them, fam:state/get/reset raised
        keys[#keys + 1] = math.maxinteger
        keys[#keys + 1] = math.mininteger
        keys[#keys + 1] = math.tointeger(2^53) + 1
      end
      for _, k in ipairs(keys) do
        local text = string.format("%d", k)
        assert.are.equal("fine", fam:call(k, ok))
        assert.are.equal("closed", fam:state(k))
        assert.are.equal(1, fam:info(k).counters.success)
        assert.are.equal(text, fam:get(k).key)
        assert.is_true(fam:force_open(k))
        assert.are.equal("forced_open", fam:state(text))
        assert.is_true(fam:reset(k))
        local token = assert(fam:acquire(k))
        fam:release(token, true)
        assert.are.equal(2, fam:info(text).counters.success)
      end
      assert.are.equal(#keys, fam:size())
      -- past 2^53 a float is no longer an integer's exact spelling: refused everywhere
      assert.has_error(function() fam:call(2^53 + 2, ok) end)
      assert.has_error(function() fam:state(2^53 + 2) end)
    end)

    it_("keeps any bytes of a key, NULs included", function()
      local fam = family()
      local key = "a\0b\255"
      fam:call(key, ok)
      assert.are.same({ key }, fam:keys())
      assert.are.equal("closed", fam:state(key))
      assert.is_nil(fam:state("a"))
    end)

    it_("follows the outcome rules of cb:call, key by key", function()
      local fam = family()
      local ok1, e = pcall(fam.call, fam, "k", boom)
      assert.is_false(ok1)
      assert.are.equal("timeout", e.type, "a raised error is re-raised unchanged")
      local r1, r2 = fam:call("k", function() return nil, { type = "timeout" } end)
      assert.is_nil(r1)
      assert.are.equal("timeout", r2.type)
      assert.are.equal("open", fam:state("k"))
      assert.are.equal("closed", fam:state("other") or "closed")
      assert.are.equal("fine", fam:call("other", ok), "another key is not affected")
      local info = fam:info("k")
      assert.are.equal(2, info.counters.failure)
      assert.are.equal(2, info.consecutive_failures)
    end)

    it_("rejects with a value that names the family, its state and the key", function()
      local fam = family()
      trip(fam, "k")
      local r1, r = fam:call("k", ok)
      assert.is_nil(r1)
      assert.is_true(fluxgate.is_rejection(r))
      assert.are.equal("player", r.breaker)
      assert.are.equal("open", r.state)
      assert.are.equal("k", r.key)
      assert.is_true(r.retry_after > 0)
      -- an integer key is its text, on every path and interpreter (Lua 5.4's
      -- C functions gave the number back)
      trip(fam, 42)
      assert.are.equal("42", select(2, fam:call(42, ok)).key)
      assert.are.equal("42", select(2, fam:call_with_fallback(42, ok, function(e) return nil, e end)).key)
      assert.are.equal("42", select(2, fam:acquire(42)).key)
      assert.are.equal("42", select(2, fam:get(42):call(ok)).key)
    end)

    it_("calls the fallback for rejections and errors", function()
      local fam = family()
      local seen = {}
      local fb = function(e) seen[#seen + 1] = e; return "fallback" end
      assert.are.equal("fine", fam:call_with_fallback("k", ok, fb))
      assert.are.equal("fallback", fam:call_with_fallback("k", boom, fb))
      assert.are.equal("fallback", fam:call_with_fallback("k", boom, fb))
      assert.are.equal("fallback", fam:call_with_fallback("k", ok, fb))
      assert.are.equal(3, #seen)
      assert.are.equal("timeout", seen[1].type)
      assert.is_true(fluxgate.is_rejection(seen[3]))
    end)

    it_("hands out tokens by key; a second release is a no-op", function()
      local fam = family()
      local t, r = fam:acquire("k")
      assert.is_nil(r)
      assert.is_not_nil(t)
      fam:release(t, false, { type = "timeout" })
      fam:release(t, false, { type = "timeout" })
      assert.are.equal(1, fam:info("k").counters.failure)
      local t2 = fam:acquire("k")
      fam:release(t2, false, { type = "timeout" })
      local none, rej = fam:acquire("k")
      assert.is_nil(none)
      assert.is_true(fluxgate.is_rejection(rej))
      assert.are.equal("k", rej.key)
      local other = family()
      local t3 = other:acquire("k")
      assert.has_error(function() fam:release(t3, true) end)
      other:release(t3, true)
    end)

    it_("lets fn yield inside fam:call", function()
      local fam = family()
      local co = coroutine.wrap(function()
        return fam:call("k", function(a)
          local b = coroutine.yield("paused")
          return a + b
        end, 1)
      end)
      assert.are.equal("paused", co())
      assert.are.equal(3, co(2))
      assert.are.equal(1, fam:info("k").counters.success)
    end)

    it_("tells listeners each key's transitions, with the key and the family's name", function()
      local signals = {}
      local fam = family({ listeners = { function(s) signals[#signals + 1] = s end } })
      trip(fam, "alice")
      assert.are.equal(1, #signals)
      assert.are.equal("player", signals[1].breaker)
      assert.are.equal("alice", signals[1].key)
      assert.are.equal("closed", signals[1].old_state)
      assert.are.equal("open", signals[1].new_state)
      assert.are.equal(1, signals[1].sequence)
      local later = {}
      fam:on_transition(function(s) later[#later + 1] = s.key end)
      fam:force_open("bob")
      assert.is_false(fam:force_open("nobody"), "a command makes no key")
      fam:call("bob", ok)
      fam:force_open("bob")
      assert.are.same({ "bob" }, later)
      assert.are.equal("bob", signals[2].key)
    end)

    it_("is bounded by max_keys: evicts the least recently used closed key, never an open one", function()
      local fam = family({ max_keys = 2 })
      trip(fam, "open1")
      fam:call("a", ok)
      fam:call("b", ok) -- evicts a (open1 is open)
      assert.are.equal(2, fam:size())
      assert.are.equal("open", fam:state("open1"))
      assert.is_nil(fam:state("a"))
      trip(fam, "b")
      -- full of open keys: nil, err -- never a raise
      local r1, err = fam:call("c", ok)
      assert.is_nil(r1)
      assert.are.equal("string", type(err))
      assert.truthy(err:find("fluxgate family is full", 1, true))
      local v, err2 = fam:get("c")
      assert.is_nil(v)
      assert.truthy(err2:find("full", 1, true))
      local t, err3 = fam:acquire("c")
      assert.is_nil(t)
      assert.truthy(err3:find("full", 1, true))
      assert.are.equal("fb: " .. err, fam:call_with_fallback("c", ok, function(e) return "fb: " .. e end))
    end)

    it_("evicts keys idle for `idle` seconds of its clock", function()
      local clk = H.clock(100)
      local fam = family({ idle = 10, clock = clk.fn })
      fam:call("a", ok)
      fam:call("b", ok)
      trip(fam, "c")
      clk:advance(11)
      assert.are.equal(2, fam:evict_idle(), "a and b go; c is open and stays")
      assert.are.same({ "c" }, fam:keys())
      assert.are.equal(2, fam:stats().evicted)
    end)

    it_("gives the same jitter for a key in every run with a seed", function()
      local function retry_after(seed)
        local fam = family({ seed = seed, clock = H.clock(0).fn })
        trip(fam, "k")
        local _, r = fam:call("k", ok)
        return r.retry_after
      end
      assert.are.equal(retry_after(7), retry_after(7))
      assert.are_not.equal(retry_after(7), retry_after(8))
    end)

    it_("resolves Custom() predicates and takes a random function", function()
      local seen = 0
      local p = assert(fluxgate.compile('breaker c { tracker = Custom("slow") tripper = FailureStreak(1) }'))
      local fam = assert(p:family("c", { custom = { slow = function(o) seen = seen + 1; return o.status == 504 end },
                                         random = function() return 0.5 end }))
      fam:call("k", function() return { status = 200 } end)
      assert.are.equal("closed", fam:state("k"))
      fam:call("k", function() return { status = 504 } end)
      assert.are.equal("open", fam:state("k"))
      assert.are.equal(2, seen)
      assert.is_false(on_family_ffi(fam), "Lua callbacks take the classic path")
      local _, err = p:family("c")
      assert.truthy(tostring(err):find("slow", 1, true))
    end)

    it_("is closed by fam:close() (idempotent); later use raises", function()
      local fam = family()
      fam:call("k", ok)
      fam:close()
      fam:close()
      assert.has_error(function() fam:call("k", ok) end, nil)
      for _, m in ipairs({ "size", "keys", "stats", "evict_idle" }) do
        local okc, e = pcall(fam[m], fam)
        assert.is_false(okc, m)
        assert.truthy(tostring(e):find("family 'player' is closed", 1, true), m)
      end
    end)

    it_("skips recording a call whose family was closed while fn ran", function()
      local fam = family()
      assert.are.equal("done", fam:call("k", function() fam:close(); return "done" end))
    end)
  end)

  describe("fam:get(key)", function()
    it_("is a breaker-like view of one key", function()
      local fam = family()
      local cb = assert(fam:get("alice"))
      assert.are.equal(1, fam:size(), "get makes the key")
      assert.are.equal(cb, fam:get("alice"), "the same view while referenced")
      assert.are.equal("alice", cb.key)
      assert.are.equal("player", cb.name)
      assert.are.equal("fine", cb:call(ok))
      assert.are.equal("fb", cb:call_with_fallback(boom, function() return "fb" end))
      local t = cb:acquire()
      cb:release(t, false, { type = "timeout" })
      assert.are.equal("open", cb:state())
      cb:reset()
      assert.are.equal("closed", cb:state())
      cb:force_open()
      assert.are.equal("forced_open", cb:state())
      cb:disable()
      assert.are.equal("disabled", cb:state())
      cb:metrics_only()
      assert.are.equal("metrics_only", cb:state())
      assert.are.equal(10, cb:wrap(function(x) return x * 2 end)(5))
    end)

    it_("has the whole info() of a breaker, with its key", function()
      local fam = family({ clock = H.clock(5).fn })
      local cb = fam:get("k")
      cb:call(ok)
      pcall(cb.call, cb, function() error({ type = "other" }) end)
      trip(fam, "k")
      cb:call(ok)
      local info = cb:info()
      assert.are.equal("k", info.key)
      assert.are.equal("player", info.name)
      assert.are.equal("open", info.state)
      assert.are.same({ success = 1, failure = 2, ignored = 1, rejected = 1, admitted = 4, stale = 0,
                        lease_expired = 0 }, info.counters)
      assert.are.equal(2, info.consecutive_failures)
      assert.is_number(info.generation)
      assert.are.equal(0, info.half_open_in_flight)
      assert.are.equal("custom", info.clock)
      assert.are.equal(1, info.transitions)
      assert.is_table(info.metrics)
    end)

    it_("sees an evicted key as a new one: closed, made again on use", function()
      local fam = family({ max_keys = 1 })
      local a = fam:get("a")
      fam:call("b", ok) -- evicts a
      assert.is_nil(fam:state("a"))
      assert.are.equal("closed", a:state())
      assert.are.equal("fine", a:call(ok))
      assert.are.same({ "a" }, fam:keys())
    end)
  end)
end

describe("policy:family options", function()
  it("refuses values of the wrong kind with a misuse error, and unknown names with nil, err", function()
    assert.has_error(function() policy:family("player", { max_keys = 1.5 }) end)
    assert.has_error(function() policy:family("player", { max_keys = -1 }) end)
    assert.has_error(function() policy:family("player", { idle = -1 }) end)
    assert.has_error(function() policy:family("player", { lease = 0 / 0 }) end)
    assert.has_error(function() policy:family("player", { metrics = "all" }) end)
    assert.has_error(function() policy:family("player", { colour = 1 }) end)
    assert.has_error(function() policy:family(1) end)
    local fam, err = policy:family("nobody")
    assert.is_nil(fam)
    assert.truthy(err:find("no breaker named 'nobody'", 1, true))
    assert.is_not_nil(policy:family("player", { max_keys = 3, idle = 1, lease = 2, metrics = "per_key",
                                                 clock = "coarse" }))
  end)
end)

describe("a family's memory", function()
  it("is counted by fam:stats().bytes (outside the Lua heap) and freed by close", function()
    local fam = family()
    local before = fam:stats().bytes
    for i = 1, 100 do fam:call(i, ok) end
    local s = fam:stats()
    assert.are.equal(100, s.keys)
    assert.is_true(s.bytes - before >= 100 * s.key_footprint, "every key's entry and block are counted")
    assert.are.equal(100, s.created)
    assert.are.equal(100, s.calls.success)
    assert.are.equal(100, s.states.closed)
    fam:close()
  end)
end)

describe("fluxgate.engine_path()", function()
  it("names the path breakers take", function()
    local want = H.engine_paths.has_ffi and "ffi" or "classic"
    assert.are.equal(want, fluxgate.engine_path())
    if rawget(_G, "jit") then assert.are.equal("ffi", fluxgate.engine_path(), "make test puts core.so on cpath") end
  end)
end)
