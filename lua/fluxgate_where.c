/*
 * fluxgate_where.c -- where this core.so was loaded from, so that LuaJIT's
 * FFI path can ffi.load the very file Lua loaded, also when it is not on
 * package.cpath (a game engine's own loader, a package.preload). dladdr is
 * a GNU/BSD extension; elsewhere the answer is nil and the FFI path falls
 * back to searching package.cpath.
 */
#if defined(__linux__) || defined(__APPLE__) || defined(__FreeBSD__)
#define _GNU_SOURCE
#include <dlfcn.h>
#define FGL_HAVE_DLADDR 1
#endif

#include "fluxgate_lua.h"

/* An object of this library: its address names the file it was loaded from. */
static const char fgl_where_mark = 0;

/* library_path() -> the path core.so was loaded from, or nil */
int fgl_library_path(lua_State *L) {
#ifdef FGL_HAVE_DLADDR
    Dl_info info;
    if (dladdr(&fgl_where_mark, &info) != 0 && info.dli_fname != NULL && info.dli_fname[0] != '\0') {
        lua_pushstring(L, info.dli_fname);
        return 1;
    }
#endif
    (void)fgl_where_mark;
    lua_pushnil(L);
    return 1;
}
