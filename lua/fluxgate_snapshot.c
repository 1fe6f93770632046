/*
 * fluxgate_snapshot.c -- cb:snapshot() and cb:restore(s) (SPEC section 10):
 * the C API's fg_breaker_snapshot / fg_breaker_restore for Lua. The bytes
 * are the engine's versioned little-endian format, so the same history
 * gives the same string on Lua 5.4 and LuaJIT. Neither calls back into Lua
 * (no draws, no Custom() predicates); only the breaker's Lua clock is read
 * first, as every query does.
 */
#include "fluxgate_lua.h"

/* snapshot(self) -> string */
static int fgl_snapshot(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1, "snapshot");
    lua_settop(L, 1);
    fgl_read_clock(L, b, 1);
    char small[1024];
    size_t n = fg_breaker_snapshot(b->head.engine, small, sizeof small);
    if (n <= sizeof small) {
        lua_pushlstring(L, small, n);
        return 1;
    }
    /* Larger: a scratch userdata the collector takes back. The snapshot
     * may have grown since it was sized (another process shares the
     * block): size it again, it cannot grow past the definition's largest. */
    for (;;) {
        void *buf = fgl_newuserdata(L, n, 0);
        /* That allocation may take a collection step, which runs the
         * breaker's own finalizer when it is reachable again only through
         * a weak-keyed table (lifetime_spec): closed under our feet. */
        if (b->head.engine == NULL) fgl_check_breaker(L, 1, "snapshot"); /* raises: closed */
        size_t m = fg_breaker_snapshot(b->head.engine, buf, n);
        if (m <= n) {
            lua_pushlstring(L, buf, m);
            return 1;
        }
        lua_pop(L, 1);
        n = m;
    }
}

/* restore(self, s) -> true | nil, err (a snapshot the engine refuses);
 * raises when s is not a string. */
static int fgl_restore(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1, "restore");
    if (lua_type(L, 2) != LUA_TSTRING)
        return luaL_argerror(L, 2, lua_pushfstring(L, "string expected, got %s", luaL_typename(L, 2)));
    lua_settop(L, 2);
    fgl_read_clock(L, b, 1);
    size_t len;
    const char *s = lua_tolstring(L, 2, &len);
    char err[400];
    if (fg_breaker_restore(b->head.engine, s, len, err, sizeof err) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

const luaL_Reg fgl_snapshot_funcs[] = {
    {"snapshot", fgl_snapshot},
    {"restore", fgl_restore},
    {NULL, NULL},
};
