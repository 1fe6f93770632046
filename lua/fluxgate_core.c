/*
 * fluxgate_core.c -- the C half of the Lua binding: the module `fluxgate.core`.
 *
 * One set of sources builds the module for Lua 5.4 and for LuaJIT 2.1 (the
 * Lua 5.1 API, as OpenResty uses); the few API differences are shimmed in
 * fluxgate_lua.h, which also maps the other files. Users never require this
 * module directly: lua/fluxgate.lua is the public face and owns the
 * binding's decisions that need no C (argument checks, classes, listeners,
 * the Prometheus text). These files keep two promises:
 *
 *   - No Lua error ever longjmps through the engine. Lua callbacks that the
 *     engine must call synchronously (a Lua random source, Custom()
 *     predicates) run under lua_pcall with stack space reserved beforehand,
 *     and their errors are parked until the engine call has returned.
 *   - No C heap is held when a Lua error can be raised: every engine object
 *     belongs to a userdata created in a safe closed state *before* the
 *     engine call that fills it (liolib's pattern), so the garbage collector
 *     frees it whatever happens next (lua-cjson's rule).
 */
#include <string.h>

#include "fluxgate_lua.h"

/* The FFI's declarations as text, for LuaJIT's ffi.cdef (see fluxgate_lua.h). */
static const char fgl_ffi_cdef[] =
    FGL_EXPAND_STRINGIZE(FGL_FFI_TYPES) "\n" FGL_EXPAND_STRINGIZE(FGL_BREAKER_FFI_FUNCTIONS);

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

/* init(rejection, drain): the Lua functions the C side calls back (the
 * rejection value's constructor; the listeners' drain). */
static int fgl_init(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    fgl_getuservalue(L, FGL_MODULE_UPVALUE);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, 2);
    return 0;
}

void fgl_registry_metatable(lua_State *L, const char *name, lua_CFunction gc) {
    /* Filled only when made here: a second copy of core.so loaded into the
     * same Lua state (package.loadlib of another file, as a game engine's
     * loader may do) finds the first one's and leaves it. Its __gc taken
     * over by the copy, the first copy's objects were finalized through
     * code that LuaJIT's lua_close unloads before them (it unloads the
     * newer library first): a crash at exit. */
    if (luaL_newmetatable(L, name)) {
        if (gc != NULL) {
            lua_pushcfunction(L, gc);
            lua_setfield(L, -2, "__gc");
        }
        lua_pushliteral(L, "fluxgate internal object");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
}

FGL_EXPORT int luaopen_fluxgate_core(lua_State *L);

/* The module table: the functions of the other files, version, STATES
 * (names indexed by fg_state), MARK (the class key, see fgl_class_mark)
 * and FFI_CDEF (fgl_head for ffi.cdef). */
FGL_EXPORT int luaopen_fluxgate_core(lua_State *L) {
    char replaced[640];
    if (fgl_library_replaced(replaced, sizeof replaced)) return luaL_error(L, "%s", replaced);
    fgl_registry_metatable(L, FGL_POLICY_MT, fgl_policy_gc);
    fgl_registry_metatable(L, FGL_REPORT_MT, fgl_report_gc);
    fgl_shared_open(L);
    fgl_sink_open(L);

    lua_settop(L, 0);
    fgl_module *m = fgl_newuserdata(L, sizeof *m, 1); /* 1: the module state */
    memset(m, 0, sizeof *m);
    m->list.next = m->list.prev = &m->list;
    m->alloc = fgl_allocator(L);
    lua_createtable(L, FGL_MODULE_ENVS, 0);
    lua_pushboolean(L, 0);
    lua_rawseti(L, -2, 1);
    lua_pushboolean(L, 0);
    lua_rawseti(L, -2, 2);
    lua_newtable(L);
    lua_rawseti(L, -2, 3); /* the totals of closed families, by name */
    lua_newtable(L);
    lua_rawseti(L, -2, FGL_MODULE_SINKS); /* the counter sinks of plain breakers, by name */
    lua_newtable(L); /* breaker -> environment (fgl_set_env), weak keys: an ephemeron table */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawseti(L, -2, FGL_MODULE_ENVS);
    fgl_setuservalue(L, 1);

    lua_newtable(L); /* 2: the module table */
    luaL_setfuncs(L, fgl_policy_funcs, 0);
    luaL_setfuncs(L, fgl_frame_funcs, 0);
    static const luaL_Reg *const with_module[] = {fgl_breaker_funcs, fgl_call_funcs, fgl_query_funcs,
                                                  fgl_outcome_funcs, fgl_shared_funcs,
                                                  fgl_snapshot_funcs, fgl_reload_funcs,
                                                  fgl_shared_family_funcs};
    for (size_t i = 0; i < sizeof with_module / sizeof with_module[0]; i++) {
        lua_pushvalue(L, 1);
        luaL_setfuncs(L, with_module[i], 1);
    }
    fgl_family_register(L, 1, 2);
    lua_pushcfunction(L, fgl_library_path);
    lua_setfield(L, 2, "library_path");
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, fgl_init, 1);
    lua_setfield(L, 2, "init");

    lua_pushstring(L, fg_version());
    lua_setfield(L, -2, "version");
    lua_createtable(L, FG_STATE_COUNT, 1);
    for (int s = 0; s < FG_STATE_COUNT; s++) {
        lua_pushstring(L, fg_state_name((fg_state)s));
        lua_rawseti(L, -2, s);
    }
    lua_setfield(L, -2, "STATES");
    lua_pushlightuserdata(L, (void *)&fgl_class_mark);
    lua_setfield(L, -2, "MARK");
    lua_pushstring(L, fgl_ffi_cdef);
    lua_setfield(L, -2, "FFI_CDEF");
    lua_pushinteger(L, FGL_CLOSED);
    lua_setfield(L, -2, "FLAG_CLOSED");
    lua_pushinteger(L, FGL_FFI_CLOSED);
    lua_setfield(L, -2, "FFI_CLOSED");
    return 1;
}
