/*
 * fluxgate_shared.c -- shared maps for Lua: core.shared_map(path, size)
 * opens (or makes) the file-backed map of src/fg_shm.h that shared
 * breakers and shared families place their state blocks in. One userdata
 * per opening holds one reference; every shared breaker holds another, so
 * the mapping outlives whichever the collector takes first.
 */
#include <string.h>

#include "fg_breaker_shared.h"
#include "fg_shared_family.h"
#include "fg_shm.h"
#include "fluxgate_lua.h"

typedef struct fgl_shm {
    fg_shm *map; /* NULL after __gc */
} fgl_shm;

fg_shm *fgl_to_shm(lua_State *L, int idx) {
    fgl_shm *s = luaL_testudata(L, idx, FGL_SHM_MT);
    return s != NULL ? s->map : NULL;
}

static int fgl_shm_gc(lua_State *L) {
    fgl_shm *s = luaL_checkudata(L, 1, FGL_SHM_MT);
    fg_shm_release(s->map);
    s->map = NULL;
    return 0;
}

/* shared_map(path, size [, open]) -> map, fresh, foreign | nil, err
 * foreign: in use by processes this one did not start (fg_shm.h).
 * open: the maps this Lua state holds already (any keys); when path is
 * one of their files under another spelling (a symlinked directory, "//",
 * "/./"), that map is returned, not a second mapping of the file: blocks
 * are told apart by their addresses (a chain counts once in the metrics,
 * handles on one block are found alike), which a second mapping would
 * double. */
static int fgl_shared_map(lua_State *L) {
    fgl_module *m = lua_touserdata(L, FGL_MODULE_UPVALUE);
    const char *path = luaL_checkstring(L, 1);
    lua_Number size = luaL_checknumber(L, 2);
    if (!(size >= 0 && size <= 4294967296.0)) {
        lua_pushnil(L);
        lua_pushliteral(L, "a shared zone's size must be a number of bytes up to 4 GiB");
        return 2;
    }
    fgl_shm *s = fgl_newuserdata(L, sizeof *s, 0);
    s->map = NULL;
    luaL_getmetatable(L, FGL_SHM_MT);
    lua_setmetatable(L, -2);
    char err[512];
    int fresh = 0;
    s->map = fg_shm_open(path, (size_t)size, &m->alloc, &fresh, err, sizeof err);
    if (s->map == NULL) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    if (lua_istable(L, 3)) {
        lua_pushnil(L);
        while (lua_next(L, 3) != 0) {
            fg_shm *have = fgl_to_shm(L, -1);
            if (have != NULL && fg_shm_same_file(have, s->map)) {
                fg_shm_release(s->map);
                s->map = NULL;
                lua_pushboolean(L, 0);
                lua_pushboolean(L, 0);
                return 3; /* the map, under the key */
            }
            lua_pop(L, 1);
        }
    }
    lua_pushboolean(L, fresh == FG_SHM_OPEN_FRESH);
    lua_pushboolean(L, fresh == FG_SHM_OPEN_FOREIGN);
    return 3;
}

/* shared_map_usage(map) -> size, used (bytes) */
static int fgl_shared_map_usage(lua_State *L) {
    fg_shm *map = fgl_to_shm(L, 1);
    if (map == NULL) return luaL_argerror(L, 1, "open shared map expected");
    lua_pushnumber(L, (lua_Number)fg_shm_size(map));
    lua_pushnumber(L, (lua_Number)fg_shm_used(map));
    return 2;
}

/* Pushes one zone_totals() entry: { name, kind, chain, counts, states }. */
static void fgl_push_zone_entry(lua_State *L, const char *name, const char *kind, const void *chain,
                                const fg_counters *c, const uint64_t *states) {
    lua_createtable(L, 0, 5);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushlightuserdata(L, (void *)chain);
    lua_setfield(L, -2, "chain");
    fgl_push_counts(L, c, 0);
    lua_setfield(L, -2, "counts");
    fgl_push_state_counts(L, states);
    lua_setfield(L, -2, "states");
}

/* shared_map_totals(map) -> { { name, kind = "breaker" | "family", chain,
 * counts = { [k] = n }, states = { [state + 1] = n } }, ... }: every shared
 * breaker and family the map holds, read from the map alone (fg_shm_heads),
 * whether or not this process has a handle on it: a name whose last
 * handle here was closed or collected keeps its series (counters never
 * decrease), as every worker of the instance reports it. counts in
 * stats()'s positions; states: a breaker's 1 in its state, a family's
 * keys per state; chain: what identifies the counters (as stats() and
 * shared_family_stats() name them), so that each chain counts once. */
static int fgl_shared_map_totals(lua_State *L) {
    fg_shm *map = fgl_to_shm(L, 1);
    if (map == NULL) return luaL_argerror(L, 1, "open shared map expected");
    /* the heads are copied out first: nothing below reads the directory twice */
    fg_shm_head *heads = fgl_newuserdata(L, FG_SHM_ENTRIES * sizeof *heads, 0);
    lua_newtable(L);
    int n = 0;
    static const uint32_t kinds[] = {FG_SHM_BREAKER, FG_SHM_FAMILY};
    for (int k = 0; k < 2; k++) {
        size_t count = fg_shm_heads(map, kinds[k], heads, FG_SHM_ENTRIES);
        for (size_t i = 0; i < count; i++) {
            /* a name the binding would refuse (fluxgate_name.c) is none it
             * wrote, and one label value that is not UTF-8 would make
             * Prometheus refuse the whole scrape */
            size_t bad_at = 0;
            if (fgl_name_problem(heads[i].name, strlen(heads[i].name), &bad_at) != NULL) continue;
            const void *chain = NULL;
            if (kinds[k] == FG_SHM_BREAKER) {
                fg_counters c;
                fg_state state;
                if (fg_breaker_zone_totals(map, &heads[i].span, &c, &state, &chain) != 0) continue;
                uint64_t states[FG_STATE_COUNT] = {0};
                states[state] = 1;
                fgl_push_zone_entry(L, heads[i].name, "breaker", chain, &c, states);
            } else {
                fg_shared_family_totals t;
                if (fg_shared_family_zone_totals(map, &heads[i].span, &t, &chain) != 0) continue;
                fgl_push_zone_entry(L, heads[i].name, "family", chain, &t.counters, t.states);
            }
            lua_rawseti(L, -2, ++n);
        }
    }
    return 1;
}

void fgl_shared_open(lua_State *L) {
    fgl_registry_metatable(L, FGL_SHM_MT, fgl_shm_gc);
    fgl_shared_family_open_mt(L);
}

const luaL_Reg fgl_shared_funcs[] = {{"shared_map", fgl_shared_map},
                                     {"shared_map_usage", fgl_shared_map_usage},
                                     {"shared_map_totals", fgl_shared_map_totals},
                                     {NULL, NULL}};
