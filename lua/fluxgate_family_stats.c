/*
 * fluxgate_family_stats.c -- what Lua families tell about themselves beyond
 * one key: the list of keys (fam:keys) and the numbers fam:stats and
 * fluxgate.prometheus() read (the family's aggregates in O(states), and
 * per key for metrics = "per_key" families). Moved out of
 * fluxgate_family.c, which makes, closes and queries families.
 */
#include <string.h>

#include "fluxgate_family.h"

/* ---- listing keys ------------------------------------------------------------------------ */

/* The keys, copied out under the family's lock into one buffer (Lua must
 * not run there: a memory error would leave the lock held). */
typedef struct fgl_key_copy {
    fgl_family *f;
    char *bytes;
    size_t len, cap;
    size_t *ends; /* end offset of each key */
    size_t count, ends_cap;
    int failed;
} fgl_key_copy;

static int fgl_copy_key(void *ud, const char *key, size_t key_len) {
    fgl_key_copy *k = ud;
    if (fgl_family_grow(k->f, (void **)&k->bytes, &k->cap, k->len + key_len, 1) != 0 ||
        fgl_family_grow(k->f, (void **)&k->ends, &k->ends_cap, k->count + 1, sizeof *k->ends) != 0) {
        k->failed = 1;
        return 1;
    }
    if (key_len > 0) memcpy(k->bytes + k->len, key, key_len);
    k->len += key_len;
    k->ends[k->count++] = k->len;
    return 0;
}

static void fgl_key_copy_free(fgl_key_copy *k) {
    if (k->bytes != NULL) k->f->lua.fn(k->f->lua.ud, k->bytes, k->cap, 0);
    if (k->ends != NULL) k->f->lua.fn(k->f->lua.ud, k->ends, k->ends_cap * sizeof *k->ends, 0);
    k->bytes = NULL;
    k->ends = NULL;
}

/* Lives in a userdata so that a memory error while pushing frees it. */
static int fgl_key_copy_gc(lua_State *L) {
    fgl_key_copy_free(lua_touserdata(L, 1));
    return 0;
}

/* Pushes a userdata holding a copy of every key (MRU first); raises when
 * out of memory. Every allocation below may run a collection step, and its
 * finalizers: f's own __gc too, when f is already pending finalization (a
 * family prometheus() found in the weak table of families after its last
 * reference was dropped): f->family is read again after them. */
static fgl_key_copy *fgl_copy_keys(lua_State *L, fgl_family *f) {
    fgl_key_copy *k = fgl_newuserdata(L, sizeof *k, 0);
    memset(k, 0, sizeof *k);
    k->f = f;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, fgl_key_copy_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    if (f->family != NULL) fg_family_keys(f->family, fgl_copy_key, k); /* closed meanwhile: no keys */
    if (k->failed) luaL_error(L, "fluxgate: out of memory listing keys");
    return k;
}

/* family_keys(fam) -> array of keys, most recently used first */
static int fgl_family_keys(lua_State *L) {
    fgl_family *f = fgl_check_family(L, 1, "keys");
    lua_settop(L, 1);
    fgl_key_copy *k = fgl_copy_keys(L, f);
    lua_createtable(L, (int)k->count, 0);
    size_t at = 0;
    for (size_t i = 0; i < k->count; i++) {
        lua_pushlstring(L, k->bytes + at, k->ends[i] - at);
        lua_rawseti(L, -2, (int)i + 1);
        at = k->ends[i];
    }
    fgl_key_copy_free(k); /* now rather than at the next collection */
    return 1;
}

/* ---- metrics ------------------------------------------------------------------------------ */

void fgl_push_counts(lua_State *L, const fg_counters *c, int sparse) {
    lua_createtable(L, 4 + FG_STATE_COUNT * FG_STATE_COUNT, 0);
    fgl_pushcount(L, c->success);
    lua_rawseti(L, -2, 1);
    fgl_pushcount(L, c->failure);
    lua_rawseti(L, -2, 2);
    fgl_pushcount(L, c->ignored);
    lua_rawseti(L, -2, 3);
    fgl_pushcount(L, c->rejected);
    lua_rawseti(L, -2, 4);
    for (int from = 0; from < FG_STATE_COUNT; from++)
        for (int to = 0; to < FG_STATE_COUNT; to++) {
            if (sparse && c->transitions[from][to] == 0) continue;
            fgl_pushcount(L, c->transitions[from][to]);
            lua_rawseti(L, -2, 5 + from * FG_STATE_COUNT + to);
        }
}

void fgl_push_state_counts(lua_State *L, const uint64_t *states) {
    lua_createtable(L, FG_STATE_COUNT, 0);
    for (int s = 0; s < FG_STATE_COUNT; s++) {
        fgl_pushcount(L, states[s]);
        lua_rawseti(L, -2, s + 1);
    }
}

void fgl_family_counters(const fgl_family *f, const fg_family_totals *t, fg_counters *out) {
    *out = t->counters;
    out->success -= f->exported.success;
    out->failure -= f->exported.failure;
    out->ignored -= f->exported.ignored;
    out->rejected -= f->exported.rejected;
    for (int from = 0; from < FG_STATE_COUNT; from++)
        for (int to = 0; to < FG_STATE_COUNT; to++)
            out->transitions[from][to] -= f->exported.transitions[from][to];
}

/* family_stats(fam) -> { name, counts, name_counts, states = { [state + 1] =
 *   keys }, keys, created, evicted, bytes, per_key } | nil when closed.
 *   counts: since the family was made; name_counts: what its current name
 *   exports (fgl_family_counters). O(states).
 * Everything is read from the engine before the first allocation: that may
 * run the family's own finalizer (see fgl_copy_keys), which frees it. */
static int fgl_family_stats(lua_State *L) {
    fgl_family *f = fgl_to_family(L, 1);
    if (f == NULL) return luaL_argerror(L, 1, "fluxgate family expected");
    if (f->family == NULL) return 0;
    fg_family_totals t;
    fg_family_totals_get(f->family, &t);
    lua_Integer key_footprint = (lua_Integer)fg_family_key_footprint(f->family);
    lua_pushstring(L, fg_family_name(f->family)); /* copied before a collection step can run */
    fg_counters mine;
    fgl_family_counters(f, &t, &mine);
    lua_createtable(L, 0, 9);
    lua_insert(L, -2);
    lua_setfield(L, -2, "name");
    fgl_push_counts(L, &t.counters, 1);
    lua_setfield(L, -2, "counts");
    fgl_push_counts(L, &mine, 1);
    lua_setfield(L, -2, "name_counts");
    fgl_push_state_counts(L, t.states);
    lua_setfield(L, -2, "states");
    fgl_pushcount(L, t.keys);
    lua_setfield(L, -2, "keys");
    fgl_pushcount(L, t.created);
    lua_setfield(L, -2, "created");
    fgl_pushcount(L, t.evicted);
    lua_setfield(L, -2, "evicted");
    fgl_pushcount(L, t.counters.lease_expired);
    lua_setfield(L, -2, "lease_expired");
    lua_pushnumber(L, (lua_Number)f->bytes);
    lua_setfield(L, -2, "bytes");
    lua_pushinteger(L, key_footprint);
    lua_setfield(L, -2, "key_footprint");
    lua_pushboolean(L, f->per_key);
    lua_setfield(L, -2, "per_key");
    return 1;
}

/* family_key_stats(fam) -> { { key, state, counts }, ... } for every key
 * (O(keys): for metrics = "per_key" families). Read at the clock's last
 * reading; no Lua callback runs (no outcome is classified). A family closed
 * meanwhile (its finalizer, see fgl_copy_keys) has no more keys. */
static int fgl_family_key_stats(lua_State *L) {
    fgl_family *f = fgl_to_family(L, 1);
    if (f != NULL && f->family == NULL) { /* closed after prometheus() read its family_stats */
        lua_newtable(L);
        return 1;
    }
    f = fgl_check_family(L, 1, "metrics");
    lua_settop(L, 1);
    fgl_key_copy *k = fgl_copy_keys(L, f); /* 2 */
    lua_createtable(L, (int)k->count, 0);  /* 3 */
    size_t at = 0;
    int n = 0;
    fg_info info;
    for (size_t i = 0; i < k->count; i++) {
        const char *key = k->bytes + at;
        size_t len = k->ends[i] - at;
        at = k->ends[i];
        memset(&info, 0, sizeof info);
        if (f->family == NULL) break;
        if (fg_family_info(f->family, key, len, &info) != 0) continue;
        lua_createtable(L, 0, 3);
        lua_pushlstring(L, key, len);
        lua_setfield(L, -2, "key");
        lua_pushinteger(L, (lua_Integer)info.state);
        lua_setfield(L, -2, "state");
        fgl_push_counts(L, &info.counters, 1);
        lua_setfield(L, -2, "counts");
        lua_rawseti(L, 3, ++n);
    }
    fgl_key_copy_free(k);
    return 1;
}

const luaL_Reg fgl_family_stats_funcs[] = {
    {"family_keys", fgl_family_keys},
    {"family_stats", fgl_family_stats},
    {"family_key_stats", fgl_family_key_stats},
    {NULL, NULL}};
