-- A core.so replaced on disk after this process loaded it (a new install
-- under a running nginx) is refused when a Lua state opens it again, as
-- nginx -s reload's new Lua state would: it would get the old C module (the
-- dynamic loader matches it by name) with the new Lua modules. Run in a
-- child interpreter on a copy of the module, so that this process's own
-- fluxgate.core is untouched.
describe("fluxgate.core replaced on disk since the process loaded it", function()
  it("opens again while the file is the same, and refuses once it was replaced, saying to restart", function()
    local src = assert(package.searchpath("fluxgate.core", package.cpath))
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p '" .. dir .. "/fluxgate' && cp '" .. src .. "' '" .. dir .. "/fluxgate/core.so'"))
    local script = dir .. "/run.lua"
    local f = assert(io.open(script, "w"))
    local text = ([[
      package.cpath = "DIR/?.so"
      assert(require("fluxgate.core").version)
      package.loaded["fluxgate.core"] = nil
      local ok, err = pcall(require, "fluxgate.core")
      print("same file:", ok, ok or err)
      -- a new install: a new file (inode) at the same path
      assert(os.execute("cp DIR/fluxgate/core.so DIR/new.so && mv DIR/new.so DIR/fluxgate/core.so"))
      package.loaded["fluxgate.core"] = nil
      ok, err = pcall(require, "fluxgate.core")
      print("replaced:", ok, err)
    ]]):gsub("DIR", dir)
    f:write(text)
    f:close()
    local interpreter = rawget(_G, "jit") and "luajit" or "lua5.4"
    local p = assert(io.popen(interpreter .. " '" .. script .. "' 2>&1"))
    local out = p:read("*a")
    p:close()
    os.execute("rm -rf '" .. dir .. "'")
    assert.matches("same file:\ttrue", out, 1, true)
    assert.matches("replaced:\tfalse", out, 1, true)
    assert.matches("has been replaced since", out, 1, true)
    assert.matches("restart nginx", out, 1, true)
  end)
end)

-- A second copy of core.so (another file, through package.loadlib, as a
-- game engine's loader may load it) in a Lua state that has the first: the
-- internal objects' metatables in the registry stay the first copy's, so
-- that the first copy's objects are never finalized through the second's
-- code, which LuaJIT's lua_close unloads before them (it crashed at exit).
describe("a second copy of fluxgate.core in one Lua state", function()
  it("leaves the first copy's metatables, and the state closes cleanly", function()
    local H = dofile("tests/lua/helper.lua")
    local out = H.run_child(([[
      package.path = %q
      package.cpath = %q
      local first = require("fluxgate")
      local keep = { first.breaker("first_copy"), first.compile("breaker p { }") }
      local reg = debug.getregistry()
      local gcs = {}
      for _, name in ipairs({ "fluxgate.sink", "fluxgate.policy", "fluxgate.report", "fluxgate.shared_map",
                              "fluxgate.shared_family" }) do gcs[name] = reg[name].__gc end
      local so = os.tmpname() .. "_core.so"
      assert(os.execute("cp '" .. package.searchpath("fluxgate.core", package.cpath) .. "' '" .. so .. "'"))
      for name in pairs(package.loaded) do if name:match("^fluxgate") then package.loaded[name] = nil end end
      package.preload["fluxgate.core"] = assert(package.loadlib(so, "luaopen_fluxgate_core"))
      local second = require("fluxgate")
      keep[#keep + 1] = second.breaker("second_copy")
      assert(second.breaker("first_copy"):call(function() return true end))
      for name, gc in pairs(gcs) do print(name, gc == reg[name].__gc and "kept" or "replaced") end
      os.remove(so)
      print("done", #keep)
    ]]):format(package.path, package.cpath))
    for _, name in ipairs({ "fluxgate.sink", "fluxgate.policy", "fluxgate.report", "fluxgate.shared_map",
                            "fluxgate.shared_family" }) do
      assert.matches(name .. "\tkept", out, 1, true)
    end
    assert.matches("done\t3", out, 1, true)
    assert.matches("exit 0\n", out, 1, true)
  end)
end)
