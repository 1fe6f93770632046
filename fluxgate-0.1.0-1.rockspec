-- fluxgate-0.1.0-1.rockspec -- the Lua binding of fluxgate-c as a rock.
-- `luarocks make` from the repository root builds it with the project's own
-- Makefile (flex and bison are needed, as for `make`), for the Lua that
-- luarocks targets: Lua 5.4, or LuaJIT/OpenResty (Lua 5.1 API).
rockspec_format = "3.0"
package = "fluxgate"
version = "0.1.0-1"
source = {
   -- `luarocks make` builds the checked-out tree and does not fetch this.
   url = "git+https://github.com/fluxgate/fluxgate-c.git",
   tag = "v0.1.0",
}
description = {
   summary = "Circuit breakers whose rules are a small compiled policy language",
   detailed = [[
fluxgate-c is a circuit-breaker policy engine in C: breaking rules written in a
small language (FailureStreak(5) | (MinRequests(20) & FailureRate(0.6))) are
compiled to bytecode for a small VM and run by a thread-safe breaker runtime.
This rock is its Lua API: require("fluxgate"). Under LuaJIT the hot path goes
through the FFI.
]],
   labels = { "circuit-breaker", "resilience", "openresty" },
}
dependencies = {
   "lua >= 5.1, < 5.5",
}
build = {
   type = "make",
   build_target = "lua-rock",
   build_variables = {
      LUA_INCDIR = "$(LUA_INCDIR)",
   },
   install_target = "install-lua-rock",
   install_variables = {
      LUA_INCDIR = "$(LUA_INCDIR)",
      LUA_LIBDIR = "$(LIBDIR)",
      LUA_SHAREDIR = "$(LUADIR)",
   },
}
