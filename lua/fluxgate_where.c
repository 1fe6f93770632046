/*
 * fluxgate_where.c -- where this core.so was loaded from, so that LuaJIT's
 * FFI path can ffi.load the very file Lua loaded, also when it is not on
 * package.cpath (a game engine's own loader, a package.preload). dladdr is
 * a GNU/BSD extension; elsewhere the answer is nil and the FFI path falls
 * back to searching package.cpath.
 *
 * And whether that file is still the one at its path: nginx's master keeps
 * the core.so it loaded first for its life -- a new Lua VM (nginx -s
 * reload) that requires fluxgate.core gets the library already loaded,
 * dlopen matching it by name, even after a new install replaced the file --
 * while it reads the Lua modules (fluxgate.lua, the FFI's fluxgate.cdef)
 * afresh from disk: new Lua on old C, whose FFI declarations may not match.
 * luaopen_fluxgate_core refuses that (fgl_library_replaced).
 */
#if defined(__linux__) || defined(__APPLE__) || defined(__FreeBSD__)
#define _GNU_SOURCE
#include <dlfcn.h>
#define FGL_HAVE_DLADDR 1
#endif

#include <stdio.h>

#include "fg_self_maps.h"
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

#if defined(FGL_HAVE_DLADDR) && defined(__linux__)
#define FGL_CHECK_REPLACED 1
/* fg_self_maps_each's callback: the mapping that holds our mark, whose
 * file (device and inode) is the one this code was loaded from. */
static int fgl_where_mapping(const fg_map_line *line, void *ud) {
    uintptr_t at = (uintptr_t)&fgl_where_mark;
    if (at < line->start || at >= line->end) return 0;
    *(fg_map_line *)ud = *line;
    return 1;
}
#endif

int fgl_library_replaced(char *msg, size_t cap) {
#ifdef FGL_CHECK_REPLACED
    Dl_info info;
    fg_map_line mine;
    if (dladdr(&fgl_where_mark, &info) == 0 || info.dli_fname == NULL) return 0;
    if (fg_self_maps_each(fgl_where_mapping, &mine) != 1 || mine.inode == 0)
        return 0; /* not Linux: unknown */
    /* The kernel's own word, not a stat of the path compared with the
     * mapping's device and inode: those can differ for one file (an overlay
     * filesystem, as in containers, may report a layer's device in one and
     * its own in the other), and refusing there would stop fluxgate from
     * loading at all. An install replaces the file (a new inode, the old
     * one unlinked), which the kernel marks " (deleted)". */
    if (!mine.deleted) return 0;
    snprintf(msg, cap,
             "fluxgate.core: this process runs the %s it loaded first, and that file has "
             "been replaced since (a new install?): a new Lua state here (nginx -s reload) "
             "would get the old C module with the new Lua modules, so it is refused; restart "
             "nginx (or upgrade its binary: kill -USR2) to run the installed fluxgate",
             info.dli_fname);
    return 1;
#else
    (void)msg, (void)cap;
    return 0;
#endif
}
