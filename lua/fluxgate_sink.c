/*
 * fluxgate_sink.c -- one engine counter sink (fluxgate.h, "counter sinks")
 * per breaker name per Lua state, so that fluxgate.prometheus() reads
 * plain breakers in O(names): every plain breaker of a name feeds its
 * name's sink as it runs, and the sink keeps the counts of closed and
 * collected breakers (counters never decrease).
 *
 * The sinks live in the module state's user value [FGL_MODULE_SINKS] (name -> a small
 * userdata holding one reference), for the life of the module state; each
 * breaker holds its own reference (the engine's), so the order in which the
 * collector finalizes them does not matter. A Lua state is one thread:
 * sinks are FG_SINK_SINGLE_THREAD (plain adds). Shared breakers get none:
 * their counters are the nginx instance's, in their shared block, and a
 * per-process sink would see only this worker's calls.
 */
#include <string.h>

#include "fluxgate_lua.h"

#define FGL_SINK_MT "fluxgate.sink"

typedef struct fgl_sink_box {
    fg_sink *sink; /* NULL until made, and after __gc */
} fgl_sink_box;

static int fgl_sink_gc(lua_State *L) {
    fgl_sink_box *box = luaL_checkudata(L, 1, FGL_SINK_MT);
    fg_sink_free(box->sink);
    box->sink = NULL;
    return 0;
}

void fgl_sink_open(lua_State *L) {
    fgl_registry_metatable(L, FGL_SINK_MT, fgl_sink_gc);
}

/* Pushes the module state's table of sinks. */
static void fgl_push_sinks(lua_State *L) {
    fgl_getuservalue(L, FGL_MODULE_UPVALUE);
    lua_rawgeti(L, -1, FGL_MODULE_SINKS);
    lua_remove(L, -2);
}

fg_sink *fgl_sink_for(lua_State *L, const char *name) {
    fgl_module *m = lua_touserdata(L, FGL_MODULE_UPVALUE);
    fgl_push_sinks(L);
    lua_getfield(L, -1, name);
    fgl_sink_box *box = lua_touserdata(L, -1);
    if (box != NULL && box->sink != NULL) {
        lua_pop(L, 2);
        return box->sink;
    }
    lua_pop(L, 1);
    /* the box first (liolib's pattern): nothing leaks if anything raises */
    box = fgl_newuserdata(L, sizeof *box, 0);
    box->sink = NULL;
    luaL_getmetatable(L, FGL_SINK_MT);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
    box->sink = fg_sink_new(&m->alloc, FG_SINK_SINGLE_THREAD);
    if (box->sink == NULL) luaL_error(L, "fluxgate: out of memory");
    lua_pop(L, 2);
    return box->sink;
}

void fgl_sink_stats(lua_State *L, int by_name) {
    fgl_push_sinks(L);
    int sinks = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, sinks) != 0) {
        fgl_sink_box *box = lua_touserdata(L, -1);
        lua_pop(L, 1);
        if (box == NULL || box->sink == NULL) continue;
        fg_sink_totals t;
        fg_sink_read(box->sink, &t);
        fgl_add_group(L, by_name, lua_tostring(L, -1), &t.counters, t.breakers > 0 ? t.states : NULL);
    }
    lua_pop(L, 1);
}
