/*
 * fluxgate_shared_family.c -- shared families for Lua (src/fg_shared_family.h):
 * the family userdata, the placement of a key's breaker on its block in the
 * shared table (new_breaker's opts.family / opts.key), and the family's
 * totals and keys for fluxgate.prometheus() and fam:keys(). A key's breaker
 * is an ordinary shared breaker userdata (FGL_SHARED | FGL_FAMILY_KEY):
 * fluxgate.lua's methods work on it unchanged; stats() leaves it out, the
 * family's totals count it.
 */
#include <string.h>

#include "fg_breaker_shared.h"
#include "fg_shared_family.h"
#include "fg_shm.h"
#include "fluxgate_lua.h"

typedef struct fgl_sfam {
    fg_shared_family *fam; /* NULL after __gc */
} fgl_sfam;

static fg_shared_family *fgl_to_sfam(lua_State *L, int idx) {
    fgl_sfam *s = luaL_testudata(L, idx, FGL_SFAM_MT);
    return s != NULL ? s->fam : NULL;
}

/* The open shared family at idx (raises otherwise, and from a shared
 * breaker's random function: its totals read every key under its lock). */
static fg_shared_family *fgl_check_sfam(lua_State *L, int idx) {
    fgl_refuse_shared(L, lua_touserdata(L, FGL_MODULE_UPVALUE));
    fg_shared_family *f = fgl_to_sfam(L, idx);
    if (f == NULL) luaL_argerror(L, idx, "open shared family expected");
    return f;
}

static int fgl_sfam_gc(lua_State *L) {
    fgl_sfam *s = luaL_checkudata(L, 1, FGL_SFAM_MT);
    fg_shared_family_free(s->fam);
    s->fam = NULL;
    return 0;
}

fg_shared_family *fgl_opt_shared_family(lua_State *L, int opts) {
    lua_getfield(L, opts, "family");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    fg_shared_family *f = fgl_to_sfam(L, -1);
    if (f == NULL) luaL_error(L, "fluxgate: opts.family must be an open shared family");
    lua_pop(L, 1);
    lua_getfield(L, opts, "key");
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "fluxgate: opts.key must be a string");
    lua_pop(L, 1);
    return f;
}

fg_breaker *fgl_place_family_key(lua_State *L, int opts, fg_shared_family *f, fg_policy *policy, size_t index,
                                 const fg_breaker_options *o, void *handle, int *status, char *err, size_t cap) {
    lua_getfield(L, opts, "key");
    size_t len = 0;
    const char *key = lua_tolstring(L, -1, &len);
    int made = 0;
    void *block = fg_shared_family_block(f, key, len, &made, err, cap);
    lua_pop(L, 1);
    if (block == NULL) return NULL;
    fg_breaker *h = fg_breaker_place(policy, index, o, handle, block, fg_shared_family_block_size(f), 1, err, cap);
    if (h != NULL) fg_breaker_set_zone(h, fg_shared_family_map(f));
    *status = made ? FG_SHM_CREATED : FG_SHM_ATTACHED;
    return h;
}

/* shared_family_open(map, policy, index, capacity, opts) -> family, status | nil, err
 * opts: clock_kind, seed_hi/seed_lo. status: "attached", "created" or
 * "replaced" (the table of another definition or capacity had the name). */
static int fgl_shared_family_open(lua_State *L) {
    fgl_module *m = lua_touserdata(L, FGL_MODULE_UPVALUE);
    fgl_refuse_shared(L, m);
    fg_shm *map = fgl_to_shm(L, 1);
    if (map == NULL) return luaL_argerror(L, 1, "open shared map expected");
    fgl_policy *p = fgl_check_policy(L, 2);
    lua_Integer index = luaL_checkinteger(L, 3);
    lua_Number capacity = luaL_checknumber(L, 4);
    luaL_checktype(L, 5, LUA_TTABLE);
    fg_breaker_options o = FG_BREAKER_OPTIONS_INIT;
    o.alloc = m->alloc;
    lua_getfield(L, 5, "clock_kind");
    o.clock_kind = (fg_clock_kind)lua_tointeger(L, -1);
    lua_getfield(L, 5, "seed_hi");
    lua_getfield(L, 5, "seed_lo");
    if (lua_type(L, -2) == LUA_TNUMBER) {
        o.has_seed = 1;
        o.seed = (uint64_t)lua_tonumber(L, -2) << 32 | (uint64_t)lua_tonumber(L, -1);
    }
    lua_settop(L, 5);
    if (index < 0 || fg_breaker_footprint(p->policy, (size_t)index) == 0 || !(capacity >= 1 && capacity <= FG_SHARED_FAMILY_CAPACITY_MAX)) {
        lua_pushnil(L);
        lua_pushfstring(L, "a shared family's capacity must be a whole number of keys from 1 to %d",
                        (int)FG_SHARED_FAMILY_CAPACITY_MAX);
        return 2;
    }
    fgl_sfam *s = fgl_newuserdata(L, sizeof *s, 0);
    s->fam = NULL;
    luaL_getmetatable(L, FGL_SFAM_MT);
    lua_setmetatable(L, -2);
    char err[512];
    int status = 0;
    s->fam = fg_shared_family_open(map, p->policy, (size_t)index, (uint32_t)capacity, &o, &status, err, sizeof err);
    if (s->fam == NULL) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushstring(L, status == FG_SHM_ATTACHED ? "attached" : status == FG_SHM_REPLACED ? "replaced" : "created");
    return 2;
}

/* shared_family_stats(family) -> { counts = { [k] = n }, states = { [state + 1] = n },
 * keys = n, capacity = n, chain = what identifies the counts (one per chain of tables:
 * fg_shared_family_counters_id) }: counts in stats()'s positions (1 success,
 * 2 failure, 3 ignored, 4 rejected, 5 + old * states + new). O(capacity). */
static int fgl_shared_family_stats(lua_State *L) {
    fg_shared_family *f = fgl_check_sfam(L, 1);
    fg_shared_family_totals t;
    fg_shared_family_totals_get(f, &t);
    lua_createtable(L, 0, 4);
    fgl_push_counts(L, &t.counters, 0);
    lua_setfield(L, -2, "counts");
    fgl_push_state_counts(L, t.states);
    lua_setfield(L, -2, "states");
    fgl_pushcount(L, t.keys);
    lua_setfield(L, -2, "keys");
    fgl_pushcount(L, fg_shared_family_capacity(f));
    lua_setfield(L, -2, "capacity");
    lua_pushlightuserdata(L, (void *)fg_shared_family_counters_id(f));
    lua_setfield(L, -2, "chain");
    return 1;
}

static int fgl_push_key(void *ud, const char *key, size_t len, fg_state state) {
    lua_State *L = ud;
    int n = (int)fgl_rawlen(L, -2);
    lua_pushlstring(L, key, len);
    lua_rawseti(L, -3, n + 1);
    lua_pushstring(L, fg_state_name(state));
    lua_rawseti(L, -2, n + 1);
    return 0;
}

/* shared_family_keys(family) -> keys, states: the keys made so far by any
 * process (table order), and each one's state name. */
static int fgl_shared_family_keys(lua_State *L) {
    fg_shared_family *f = fgl_check_sfam(L, 1);
    lua_settop(L, 1);
    lua_newtable(L);
    lua_newtable(L);
    fg_shared_family_keys(f, fgl_push_key, L);
    return 2;
}

/* shared_family_size(family) -> keys made so far, capacity */
static int fgl_shared_family_size(lua_State *L) {
    fg_shared_family *f = fgl_check_sfam(L, 1);
    fgl_pushcount(L, fg_shared_family_size(f));
    fgl_pushcount(L, fg_shared_family_capacity(f));
    return 2;
}

void fgl_shared_family_open_mt(lua_State *L) {
    fgl_registry_metatable(L, FGL_SFAM_MT, fgl_sfam_gc);
}

const luaL_Reg fgl_shared_family_funcs[] = {{"shared_family_open", fgl_shared_family_open},
                                            {"shared_family_stats", fgl_shared_family_stats},
                                            {"shared_family_keys", fgl_shared_family_keys},
                                            {"shared_family_size", fgl_shared_family_size},
                                            {NULL, NULL}};
