/*
 * fluxgate_reload.c -- cb:reload for Lua (the engine's fg_breaker_reload_with,
 * SPEC section 10): reload(self, policy, index) -> true, uses_custom | nil, err.
 * fluxgate.lua finds the index by name and gives the breaker the class of
 * its new definition.
 *
 * Where the new state block lives. A breaker's userdata holds its handle
 * and its first block and cannot grow, so the new block is a userdata of
 * its own, anchored in the breaker's environment table (env.blocks, an
 * array) before the engine is told about it: the collector sees every byte
 * the breaker holds, and a block lives exactly as long as its breaker (the
 * engine keeps every block a breaker has had until fg_breaker_free, which
 * cb:close / __gc call while the environment still holds them). The first
 * block, inside the userdata, stays allocated and unused after a reload.
 * The engine's part of a reload (the new definition's handle, ~250 bytes)
 * comes from the Lua state's allocator, as listeners do.
 *
 * Custom() predicates: the new definition's names are resolved against the
 * predicates the breaker was made with (its opts.custom and the module's
 * registrations at that time), kept in its environment.
 */
#include <string.h>

#include "fluxgate_lua.h"

/* The breaker's environment table, made when missing (as fluxgate_breaker.c's
 * env(self, true)); pushed. */
static void fgl_push_env(lua_State *L, fgl_breaker *b, int self) {
    if (b->head.flags & FGL_HAS_ENV) {
        fgl_get_env(L, self, b);
        return;
    }
    lua_createtable(L, FGL_ENV_FIRST_CUSTOM - 1, 0);
    for (int i = FGL_ENV_RANDOM; i < FGL_ENV_FIRST_CUSTOM; i++) {
        lua_pushboolean(L, 0);
        lua_rawseti(L, -2, i);
    }
    lua_pushvalue(L, -1);
    fgl_set_env(L, self, b);
}

static int fgl_reload(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1, "reload");
    fgl_policy *p = fgl_check_policy(L, 2);
    lua_Integer index = luaL_checkinteger(L, 3);
    lua_settop(L, 3);
    if (fgl_definition_problem(L, p->policy, index) != 0) return 2;
    /* a plain breaker's block keeps no counters (fluxgate_breaker.c) */
    fg_breaker_options sized;
    fg_breaker_options_init(&sized);
    sized.sink_only = !(b->head.flags & FGL_SHARED);
    size_t block_size = fg_breaker_footprint_with(p->policy, (size_t)index, &sized);
    luaL_checkstack(L, 12, "fluxgate reload");
    /* The new name's counter sink, made before anything changes (it may
     * raise); a shared breaker has none. */
    const char *name = fg_policy_breaker_name(p->policy, (size_t)index);
    fg_sink *sink = (b->head.flags & FGL_SHARED) ? NULL : fgl_sink_for(L, name);
    fgl_push_env(L, b, 1); /* 4 */
    /* the Custom() pairs and their slots (fluxgate_breaker.c's layout) */
    int count = 0;
    for (;;) {
        lua_rawgeti(L, 4, FGL_ENV_FIRST_CUSTOM + 2 * count);
        int is_fn = lua_type(L, -1) == LUA_TFUNCTION;
        lua_pop(L, 1);
        if (!is_fn) break;
        count++;
    }
    lua_rawgeti(L, 4, FGL_ENV_FIRST_CUSTOM + 2 * count);
    fgl_custom_slot *slots = count > 0 ? lua_touserdata(L, -1) : NULL;
    lua_pop(L, 1); /* the env keeps them */

    /* The block, anchored before the engine sees it (anything that may raise
     * happens before the reload; nothing after it). */
    lua_getfield(L, 4, "blocks"); /* 5 */
    if (lua_type(L, 5) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, 4, "blocks");
    }
    int at = (int)fgl_rawlen(L, 5) + 1;
    void *block = fgl_block_at(fgl_newuserdata(L, FGL_BLOCK_SLACK + block_size, 0)); /* 6 */
    lua_pushvalue(L, 6);
    lua_rawseti(L, 5, at);

    /* fgl_enter's bracket, should the new definition resolve a Custom()
     * (may raise: nothing changed yet) */
    if (count > 0) fgl_side_get(L, b);
    fgl_resolver r;
    memset(&r, 0, sizeof r);
    r.L = L;
    r.b = b;
    r.env_index = 4;
    r.slots = slots;
    r.count = count;
    fg_reload_options o;
    memset(&o, 0, sizeof o);
    o.block = block;
    o.block_size = block_size;
    o.resolve_custom = fgl_resolve;
    o.resolve_ud = &r;
    /* Any allocation above may have taken a collection step, which runs
     * the breaker's own finalizer when it is reachable again only through
     * a weak-keyed table (lifetime_spec): closed under our feet. */
    if (b->head.engine == NULL) fgl_check_breaker(L, 1, "reload"); /* raises: closed */
    char err[320];
    err[0] = '\0';
    if (fg_breaker_reload_with(b->head.engine, p->policy, (size_t)index, &o, err, sizeof err) != 0) {
        lua_pushnil(L);
        lua_rawseti(L, 5, at); /* unused: the collector takes it */
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    /* Another name: the breaker is counted under it from now on; what it
     * counted before stays in the old name's totals (never decreasing). */
    if (sink != NULL) fg_breaker_set_sink(b->head.engine, sink);
    if (r.used) b->head.flags |= FGL_CALLBACKS;
    lua_pushboolean(L, 1);
    lua_pushboolean(L, r.used);
    return 2;
}

const luaL_Reg fgl_reload_funcs[] = {{"reload", fgl_reload}, {NULL, NULL}};
