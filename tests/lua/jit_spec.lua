-- jit_spec.lua -- under LuaJIT, fluxgate's hot paths compile: cb:call,
-- cb:call_with_fallback, acquire/release and the rejection (on call,
-- call_with_fallback and acquire) each run in a hot loop while jit.attach
-- collects trace aborts, and none may be in fluxgate's own files (issue 10,
-- items 6 and 8). Lua 5.4 has no JIT: the specs are pending there.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

local has_jit = type(rawget(_G, "jit")) == "table" and jit.status() and H.engine_paths.has_ffi
local it_jit = has_jit and it or pending

-- Runs loop() with traces flushed and collected; returns the aborts in
-- fluxgate's files ("file:line: reason") and how many traces completed.
local function traced(loop)
  local jutil, vmdef = require("jit.util"), require("jit.vmdef")
  local ours, stops = {}, 0
  local function on_trace(what, _, func, pc, code, extra)
    if what == "stop" then
      stops = stops + 1
    elseif what == "abort" then
      local info = jutil.funcinfo(func, pc)
      local source = tostring(info.source)
      if source:find("fluxgate", 1, true) and not source:find("_spec.lua", 1, true) then
        local reason = vmdef.traceerr[code] or tostring(code)
        if extra ~= nil and reason:find("%%") then reason = reason:format(extra) end
        ours[#ours + 1] = source .. ":" .. tostring(info.currentline) .. ": " .. reason
      end
    end
  end
  -- A finalizer that runs while a trace is recorded aborts that trace
  -- ("error thrown or hook called during recording") wherever it happens
  -- to be: garbage of earlier specs (breakers have __gc) is finalized first
  -- and the collector rests during the loop, so that only the code under
  -- test decides whether it compiles (an ASan build, whose allocations
  -- differ, made such an abort land in ffi_path.lua).
  collectgarbage()
  collectgarbage()
  collectgarbage("stop")
  jit.flush()
  jit.attach(on_trace, "trace")
  local ok, err = pcall(loop)
  jit.attach(on_trace)
  collectgarbage("restart")
  assert(ok, err)
  return ours, stops
end

local function assert_compiles(loop)
  local aborts, stops = traced(loop)
  assert.are.same({}, aborts)
  assert.is_true(stops > 0, "the loop was compiled")
end

local N = 5000
local function noop() return true end
local function fallback(e) return e end

-- name: "jit" unless given (a test that counts calls gives a name of its
-- own: info().counters are the name's totals)
local function closed_breaker(name)
  local use = H.engine_paths.use
  local saved = use.ffi
  use.ffi = true
  local cb = H.new({ window = "TimeWindow(10)", tripper = "MinRequests(20) & FailureRate(51%)" }, name or "jit")
  use.ffi = saved
  return cb
end

local function open_breaker()
  local cb = closed_breaker()
  for _ = 1, 25 do pcall(cb.call, cb, error) end
  assert.are.equal("open", cb:state())
  return cb
end

describe("LuaJIT compiles fluxgate's hot paths (no trace aborts in fluxgate's files)", function()
  it_jit("cb:call", function()
    local cb = closed_breaker(H.fresh_name("jit_call"))
    assert_compiles(function() for _ = 1, N do cb:call(noop) end end)
    assert.are.equal(N, cb:info().counters.success)
  end)

  it_jit("cb:call_with_fallback", function()
    local cb = closed_breaker()
    assert_compiles(function() for _ = 1, N do cb:call_with_fallback(noop, fallback) end end)
  end)

  it_jit("acquire and release", function()
    local cb = closed_breaker(H.fresh_name("jit_acquire"))
    assert_compiles(function()
      for _ = 1, N do cb:release(cb:acquire(), true) end
    end)
    assert.are.equal(N, cb:info().counters.success)
  end)

  -- The FFI path's token never reaches C, so a token that does not leave
  -- the trace is not allocated at all (LuaJIT sinks it): a compiled loop
  -- of acquire + release leaves the heap as it was (the cdata token that
  -- C received cost about 7 MB here).
  -- Which trace LuaJIT records first is a heuristic (hot counters are
  -- shared by bytecode addresses, which move from run to run), so a loop
  -- may once be compiled from a point where the token escapes; each try
  -- starts from flushed traces with a new loop function, and one try of
  -- three must run without allocating.
  it_jit("acquire and release in one compiled loop allocate no token", function()
    local cb = closed_breaker(H.fresh_name("jit_token"))
    local grown, calls = {}, 0
    for try = 1, 3 do
      jit.flush()
      local loop = assert(load("local cb = ...; return function(n) for _ = 1, n do "
                               .. "local t = cb:acquire(); cb:release(t, true) end end"))(cb)
      loop(N) -- compiled
      collectgarbage()
      collectgarbage("stop")
      local before = collectgarbage("count")
      loop(100000)
      grown[try] = collectgarbage("count") - before
      collectgarbage("restart")
      calls = calls + N + 100000
      if grown[try] < 1024 then break end
    end
    assert.is_true(grown[#grown] < 1024,
                   ("each loop allocated: %s KB"):format(table.concat(grown, ", ")))
    assert.are.equal(calls, cb:info().counters.success)
  end)

  it_jit("the rejection of an open breaker (retry_after set), through call, call_with_fallback and acquire", function()
    local cb = open_breaker()
    local last
    assert_compiles(function() for _ = 1, N do local _, r = cb:call(noop); last = r end end)
    assert.is_true(fluxgate.is_rejection(last))
    assert.is_number(last.retry_after)
    assert.are.equal("circuit breaker 'jit' is open", tostring(last))
    assert_compiles(function() for _ = 1, N do last = cb:call_with_fallback(noop, fallback) end end)
    assert.is_true(fluxgate.is_rejection(last))
    assert_compiles(function() for _ = 1, N do local _, r = cb:acquire(); last = r end end)
    assert.is_true(fluxgate.is_rejection(last))
  end)

  it_jit("the rejection of a forced-open breaker (no retry_after), used as a string", function()
    local cb = closed_breaker()
    cb:force_open()
    local text
    assert_compiles(function()
      for _ = 1, N do local _, r = cb:call(noop); text = "rejected: " .. r end
    end)
    assert.are.equal("rejected: circuit breaker 'jit' is forced_open", text)
  end)
end)
