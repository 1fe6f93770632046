-- fluxgate.engine_path() and the FFI path's loading under LuaJIT: core.so
-- is found where Lua loaded it from (any loader: LÖVE's, a preload), and
-- when the FFI path cannot be used a one-time warning on stderr says why
-- and how to fix it, instead of calls silently getting several times slower.
local fluxgate = require("fluxgate")

local is_jit = type(rawget(_G, "jit")) == "table"

-- Loads fluxgate afresh with fluxgate.core preloaded from `so` (loadlib) and
-- package.cpath set to `cpath`, stderr captured; `wrap(core)` may change
-- the core module as it is loaded. Returns the module and what was written
-- to stderr. Restores everything.
local function fresh_fluxgate(so, cpath, wrap)
  local saved_loaded, saved_preload, saved_cpath, saved_stderr = {}, package.preload["fluxgate.core"], package.cpath, io.stderr
  for name, mod in pairs(package.loaded) do
    if name == "fluxgate" or name:match("^fluxgate%.") then saved_loaded[name] = mod; package.loaded[name] = nil end
  end
  local written = {}
  local open = assert(package.loadlib(so, "luaopen_fluxgate_core"))
  package.preload["fluxgate.core"] = function(...)
    local core = open(...)
    if wrap then wrap(core) end
    return core
  end
  package.cpath = cpath
  io.stderr = { write = function(_, ...) for i = 1, select("#", ...) do written[#written + 1] = tostring(select(i, ...)) end end }
  local ok, mod = pcall(require, "fluxgate")
  io.stderr = saved_stderr
  package.cpath = saved_cpath
  package.preload["fluxgate.core"] = saved_preload
  for name in pairs(package.loaded) do
    if name == "fluxgate" or name:match("^fluxgate%.") then package.loaded[name] = nil end
  end
  for name, m in pairs(saved_loaded) do package.loaded[name] = m end
  assert(ok, mod)
  return mod, table.concat(written)
end

local function copy(from, to)
  local i = assert(io.open(from, "rb"))
  local data = i:read("*a")
  i:close()
  local o = assert(io.open(to, "wb"))
  o:write(data)
  o:close()
end

local function core_path()
  return assert(package.searchpath("fluxgate.core", package.cpath), "make test puts core.so on cpath")
end

describe("fluxgate.engine_path()", function()
  it("is 'ffi' under LuaJIT with core.so on package.cpath, 'classic' on Lua 5.4", function()
    assert.are.equal(is_jit and "ffi" or "classic", fluxgate.engine_path())
  end)

  if not is_jit then return end

  it("stays 'ffi' when core.so is loaded from outside package.cpath (a game engine's loader)", function()
    local dir = os.tmpname()
    os.remove(dir)
    local so = dir .. "_core.so"
    copy(core_path(), so)
    local fg, err = fresh_fluxgate(so, "/nonexistent/?.so")
    os.remove(so)
    assert.are.equal("ffi", fg.engine_path())
    assert.are.equal("", err, "no warning")
    local cb = fg.breaker("x")
    assert.are.equal(1, cb:call(function() return 1 end))
  end)

  it("warns once on stderr, naming what was searched and the fix, when the FFI cannot load core.so", function()
    -- a platform where core.so cannot tell where it was loaded from (no dladdr)
    local fg, err = fresh_fluxgate(core_path(), "/nonexistent/?.so", function(core) core.library_path = nil end)
    assert.are.equal("classic", fg.engine_path())
    assert.truthy(err:find("LuaJIT detected, but the FFI path is off", 1, true), err)
    assert.truthy(err:find("/nonexistent/?.so", 1, true), "names package.cpath: " .. err)
    assert.truthy(err:find("package.cpath", 1, true), "says how to fix it: " .. err)
    local _, newlines = err:gsub("\n", "")
    assert.are.equal(1, newlines, "one warning")
    local cb = fg.breaker("x")
    assert.are.equal(1, cb:call(function() return 1 end), "the classic path works")
    local fam = assert(fg.compile("breaker f { }")):family("f")
    assert.are.equal(2, fam:call("k", function() return 2 end))
  end)
end)
