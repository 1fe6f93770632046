-- helper.lua -- shared fixtures of the Lua binding's busted specs
-- (tests/lua/*_spec.lua). Loaded with dofile from the repository root, which
-- is where `make test-lua` runs busted.
local fluxgate = require("fluxgate")

local H = {}

-- A manual clock: c.now is the time; c.fn is what `clock =` takes.
function H.clock(start)
  local c = { now = start or 1000.0 }
  c.fn = function() return c.now end
  function c:advance(s) self.now = self.now + s end
  return c
end

-- A scripted random source: the values in turn, then the last one again.
function H.scripted(values)
  local i = 0
  return function()
    i = math.min(i + 1, #values)
    return values[i]
  end
end

-- Makes a breaker or fails the test with the engine's message.
function H.new(spec, name)
  local cb, err = fluxgate.breaker(name or "t", spec)
  assert(cb, "fluxgate.breaker failed: " .. tostring(err))
  return cb
end

-- A breaker name no other test has used: prefix (one no other spec file
-- uses) and a number. A plain breaker's info().counters are its name's
-- totals -- every breaker of that name in this Lua state since the module
-- was loaded, live, closed or collected (the name's counter sink) -- so a
-- test that asserts counts gives its breakers a name of their own.
local fresh_names = 0
function H.fresh_name(prefix)
  fresh_names = fresh_names + 1
  return prefix .. "_" .. fresh_names
end

-- Policy text src compiled with every `breaker <name>` renamed <name>_<n>,
-- with an <n> no other test uses: one Lua state keeps a name's counters
-- (every breaker or family of that name, live, closed or collected) and
-- its state gauges, so a test that asserts them owns its names. Returns
-- the policy and the names (names.<name> = "<name>_<n>").
function H.fresh_policy(src, chunk)
  local id = H.fresh_name("p")
  local names = {}
  local renamed = src:gsub("breaker ([%w_]+)", function(short)
    names[short] = short .. "_" .. id
    return "breaker " .. names[short]
  end)
  return assert(require("fluxgate").compile(renamed, chunk)), names
end

-- collectgarbage("count") once collections free nothing more: the heap a
-- test measures before and after what it does. Two collections are not
-- enough under LuaJIT: what a finalizer lets go of is freed a cycle later,
-- and it may hold the next finalizer's object, so an earlier test's garbage
-- (which tests ran before depends on the order) could still be freed --
-- tens of KB -- between a test's two readings.
function H.settled_count()
  local last, now = math.huge, collectgarbage("count")
  while now < last do
    collectgarbage()
    last, now = now, collectgarbage("count")
  end
  return now
end

function H.fail(cb, n, e)
  for _ = 1, n or 1 do pcall(cb.call, cb, function() error(e or "boom") end) end
end

function H.pass(cb, n)
  for _ = 1, n or 1 do cb:call(function() return true end) end
end

-- The rejection a call receives, or nil when the call was admitted.
function H.rejection(cb)
  local _, r = cb:call(function() return true end)
  if fluxgate.is_rejection(r) then return r end
  return nil
end

-- Runs fn with every report (ngx.log) captured; returns the messages.
function H.capture_reports(fn)
  local seen = {}
  local saved = rawget(_G, "ngx")
  _G.ngx = { ERR = 4, log = function(_, ...) seen[#seen + 1] = table.concat({ ... }) end }
  local ok, err = pcall(fn)
  _G.ngx = saved
  if not ok then error(err, 0) end
  return seen
end

-- What a seed decides: 40 acquires (each admitted one released as a
-- success) on a breaker that one failure opened and HalfOpened() then keeps
-- half open, its Random(0.5) permit drawing from seed. Returns the
-- admissions as a string of 1s and 0s, and the breaker's state after them.
function H.seeded_admissions(seed)
  local cb = H.new({ tripper = "HalfOpened() | FailureStreak(1)", retry = "Always()",
                     permit = "Random(0.5)", seed = seed })
  H.fail(cb, 1)
  local out = {}
  for i = 1, 40 do
    local token = cb:acquire()
    out[i] = token and "1" or "0"
    if token then cb:release(token, true) end
  end
  return table.concat(out), cb:state()
end

-- circuit_breaker_calls_total of one name and outcome in a scrape's text
-- (nil when the scrape has no such line).
function H.calls(text, name, outcome)
  return tonumber(text:match('circuit_breaker_calls_total{circuit_name="' .. name .. '",outcome="' .. outcome .. '"} (%d+)'))
end

-- Runs Lua source in a child interpreter of the one running the specs
-- (jit_flags, e.g. "-joff", only under LuaJIT), so that a crash fails the
-- test instead of busted; returns what it printed, then "exit <status>\n".
function H.run_child(source, jit_flags)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(source)
  f:close()
  local interpreter = rawget(_G, "jit") and ("luajit " .. (jit_flags or "")) or "lua5.4"
  local child = assert(io.popen("timeout 120 " .. interpreter .. " '" .. script .. "' 2>&1; echo \"exit $?\""))
  local out = child:read("*a")
  child:close()
  os.remove(script)
  return out
end

-- Shared maps for the specs of shared breakers and families: with
-- before_each(z.setup) and after_each(z.teardown), a fresh directory per test
-- (z.dir, removed after the test once its handles are collected), and
-- z.zone(extra), the options of a zone named prefix .. z.n that no other
-- test uses, with defaults and then extra merged in. (busted's before_each
-- is not a global of this file: the spec registers them.)
function H.shared_zones(prefix, defaults)
  local z = { n = 0 }
  function z.setup()
    z.n = z.n + 1
    z.dir = os.tmpname()
    os.remove(z.dir)
    assert(os.execute("mkdir -p " .. z.dir))
  end
  function z.teardown()
    collectgarbage()
    collectgarbage()
    os.execute("rm -rf " .. z.dir)
    -- the next test's prometheus() reads its own zones only (a Lua state
    -- exports every zone it opened, for its life)
    package.loaded["fluxgate.paths"].forget_zones()
  end
  function z.zone(extra)
    local o = { dir = z.dir, zone = prefix .. z.n }
    for k, v in pairs(defaults or {}) do o[k] = v end
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end
  return z
end

-- The engine paths a scenario should run on: the FFI hot path and the
-- classic C API under LuaJIT, the classic API alone under Lua 5.4. The
-- switch is internal (fluxgate.lua leaves it in package.loaded).
local paths = package.loaded["fluxgate.paths"]
H.engine_paths = paths

function H.paths()
  if paths.has_ffi then return { true, false } end
  return { false }
end

function H.with_path(use_ffi, fn)
  local saved = paths.use.ffi
  paths.use.ffi = use_ffi
  local ok, err = pcall(fn)
  paths.use.ffi = saved
  if not ok then error(err, 0) end
end

-- Whether a breaker takes the FFI path.
function H.on_ffi(cb)
  local call = getmetatable(cb).__index.call
  return paths.Ffi ~= nil and (call == paths.Ffi.call or call == paths.FfiShared.call)
end

function H.path_name(use_ffi) return use_ffi and "FFI path" or "classic path" end

return H
