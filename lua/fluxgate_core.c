/*
 * fluxgate_core.c -- the C half of the Lua binding: the module `fluxgate.core`.
 *
 * One set of sources builds the module for Lua 5.4 and for LuaJIT 2.1 (the
 * Lua 5.1 API, as OpenResty uses); the few API differences are shimmed in
 * fluxgate_lua.h, which also maps the other files. Users
 * never require this module directly: lua/fluxgate.lua is the public face and
 * owns every policy decision of the binding (argument checks, outcome
 * extraction, listeners, Prometheus text). These files only move data between
 * Lua values and include/fluxgate.h, and keep two promises:
 *
 *   - No Lua error ever longjmps through the engine. Lua callbacks that the
 *     engine must call synchronously (a Lua random source, Custom()
 *     predicates) run under lua_pcall with stack space reserved beforehand,
 *     and their errors are parked until the engine call has returned.
 *   - No C heap is held when a Lua error can be raised: every engine object
 *     lives in a userdata created in a safe empty state *before* the engine
 *     call that fills it (liolib's pattern), so the garbage collector frees it
 *     whatever happens next (lua-cjson's rule).
 *
 * Listeners are never called from inside the engine. One C listener per
 * breaker copies each transition into a small fixed queue (no allocation),
 * and the Lua side drains the queue after every engine call. The queue and
 * the breaker pointer live in a plain struct (fgl_shared) whose declaration
 * is also handed to LuaJIT's ffi.cdef, so the FFI hot path reads it directly.
 */
#include <string.h>

#include "fluxgate_lua.h"

/* fgl_shared's declaration as text, for LuaJIT's ffi.cdef (see fluxgate_lua.h). */
static const char fgl_shared_cdef[] = FGL_EXPAND_STRINGIZE(FGL_SHARED_TYPES);

fg_allocator fgl_allocator(lua_State *L) {
    fg_allocator a;
    a.fn = lua_getallocf(L, &a.ud);
    return a;
}

void fgl_push_u64(lua_State *L, uint64_t v) {
#if LUA_VERSION_NUM >= 504
    lua_pushinteger(L, (lua_Integer)v);
#else
    lua_pushnumber(L, (lua_Number)v);
#endif
}

uint64_t fgl_check_u64(lua_State *L, int idx) {
#if LUA_VERSION_NUM >= 504
    return (uint64_t)luaL_checkinteger(L, idx);
#else
    lua_Number n = luaL_checknumber(L, idx);
    return n > 0 ? (uint64_t)n : 0;
#endif
}

/* ---- the module -------------------------------------------------------------- */

static void fgl_new_metatable(lua_State *L, const char *name, lua_CFunction gc) {
    luaL_newmetatable(L, name);
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__close");
#endif
    lua_pushliteral(L, "fluxgate internal object");
    lua_setfield(L, -2, "__metatable");
}

int luaopen_fluxgate_core(lua_State *L);

/* The module table: the functions above, version, STATES (names indexed by
 * fg_state) and SHARED_CDEF (fgl_shared's declaration for ffi.cdef). */
int luaopen_fluxgate_core(lua_State *L) {
    fgl_new_metatable(L, FGL_POLICY_MT, fgl_policy_gc);
    fgl_new_metatable(L, FGL_REPORT_MT, fgl_report_gc);
    lua_pop(L, 2);
    /* Tokens of the two-step protocol (fluxgate_fast.c): plain data. */
    luaL_newmetatable(L, FGL_TOKEN_MT);
    lua_pushliteral(L, "fluxgate internal object");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    lua_newtable(L);
    luaL_setfuncs(L, fgl_policy_funcs, 0);
    fgl_new_metatable(L, FGL_BREAKER_MT, fgl_breaker_gc);
    luaL_setfuncs(L, fgl_breaker_funcs, 1); /* upvalue: the breaker metatable */
    luaL_getmetatable(L, FGL_BREAKER_MT);
    luaL_setfuncs(L, fgl_query_funcs, 1);
    luaL_getmetatable(L, FGL_BREAKER_MT);
    luaL_setfuncs(L, fgl_fast_funcs, 1);

    lua_pushstring(L, fg_version());
    lua_setfield(L, -2, "version");
    lua_createtable(L, FG_STATE_COUNT, 1);
    for (int s = 0; s < FG_STATE_COUNT; s++) {
        lua_pushstring(L, fg_state_name((fg_state)s));
        lua_rawseti(L, -2, s);
    }
    lua_setfield(L, -2, "STATES");
    lua_pushstring(L, fgl_shared_cdef);
    lua_setfield(L, -2, "SHARED_CDEF");
    lua_pushinteger(L, FGL_QUEUE_CAP);
    lua_setfield(L, -2, "QUEUE_CAP");
    return 1;
}
