/*
 * fluxgate_frames.c -- whether a drain is still running: fluxgate/delivery.lua
 * marks an object's environment while a drain of it delivers, so that a
 * nested drain (a listener that uses the object) or one made while a
 * listener is suspended (it yielded) leaves the signals to the running one.
 * The mark is Lua data; the drain is a Lua frame. An error that unwinds the
 * drain between setting the mark and clearing it (a debug hook or a memory
 * error: Lua code can be interrupted at any instruction) would leave the
 * mark behind for good, and every later transition queued and never
 * delivered. So the mark is only believed while the frame that set it is on
 * its thread's stack: the stack is the one record no error can leave stale.
 */
#include "fluxgate_lua.h"

/* running() -> the running thread (the main one too, which Lua 5.1's
 * coroutine.running does not return). */
static int fgl_running(lua_State *L) {
    lua_pushthread(L);
    return 1;
}

/* in_frame(thread, fn, self) -> whether a call of fn whose first local (its
 * first parameter) is self is on thread's stack: running, or suspended in a
 * coroutine that can still be resumed. On the running thread, a call other
 * than the innermost one (the caller asks from inside such a call). */
static int fgl_in_frame(lua_State *L) {
    lua_State *co = lua_tothread(L, 1);
    luaL_argcheck(L, co != NULL, 1, "thread expected");
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 3);
    luaL_checkstack(L, 2, "fluxgate in_frame");
    /* a coroutine that died of an error keeps its frames (for a traceback) */
    int found = 0, skip = co == L;
    if (lua_status(co) != LUA_OK && lua_status(co) != LUA_YIELD) co = NULL;
    lua_Debug ar;
    for (int level = 0; co != NULL && !found && lua_getstack(co, level, &ar); level++) {
        if (co != L && !lua_checkstack(co, 2)) return luaL_error(L, "fluxgate: stack overflow");
        if (!lua_getinfo(co, "f", &ar)) continue;
        if (co != L) lua_xmove(co, L, 1);
        int same = lua_rawequal(L, -1, 2);
        lua_pop(L, 1);
        if (!same || lua_getlocal(co, &ar, 1) == NULL) continue;
        if (co != L) lua_xmove(co, L, 1);
        if (lua_rawequal(L, -1, 3)) {
            if (skip) skip = 0;
            else found = 1;
        }
        lua_pop(L, 1);
    }
    lua_pushboolean(L, found);
    return 1;
}

const luaL_Reg fgl_frame_funcs[] = {{"running", fgl_running}, {"in_frame", fgl_in_frame}, {NULL, NULL}};
