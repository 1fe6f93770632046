/*
 * fluxgate_family_reload.c -- fam:reload for Lua (the engine's
 * fg_family_reload_with, SPEC section 10): family_reload(fam, policy,
 * index) -> true, uses_custom | nil, err. family.lua finds the index by
 * name and gives the family the engine path its new definition needs.
 *
 * Why not fg_family_reload: the engine would resolve the new definition's
 * Custom() names with the resolver the family was made with, whose ud (an
 * fgl_resolver) lived on the C stack of family_new. The resolver here is
 * built the way cb:reload builds one (fluxgate_reload.c): from the family's
 * environment, which keeps the predicates the family was made with (its
 * opts.custom and the module's registrations at that time) and the slots
 * the engine's fg_custom entries point to. fgl_resolve fills a slot with
 * the same owner and env slot whichever definition asks for the name, so
 * the slots made at creation serve every later definition.
 *
 * Memory: the engine's part (the new definition's handle for the family's
 * prototype, then one new entry per key as keys move) comes from the
 * family's counting allocator: fam:stats().bytes shows it.
 */
#include <string.h>

#include "fluxgate_family.h"

static int fgl_family_reload(lua_State *L) {
    fgl_family *f = fgl_check_family(L, 1, "reload");
    fgl_policy *p = fgl_check_policy(L, 2);
    lua_Integer index = luaL_checkinteger(L, 3);
    lua_settop(L, 3);
    if (fgl_definition_problem(L, p->policy, index) != 0) return 2;

    /* The Custom() pairs and their slots (fluxgate_family.c's layout); a
     * family without an environment has none. */
    fgl_resolver r;
    memset(&r, 0, sizeof r);
    r.L = L;
    r.b = &f->host;
    if (f->host.head.flags & FGL_HAS_ENV) {
        luaL_checkstack(L, 4, "fluxgate reload");
        fgl_getuservalue(L, 1); /* 4 */
        r.env_index = 4;
        for (;;) {
            lua_rawgeti(L, 4, FGL_ENV_FIRST_CUSTOM + 2 * r.count);
            int is_fn = lua_type(L, -1) == LUA_TFUNCTION;
            lua_pop(L, 1);
            if (!is_fn) break;
            r.count++;
        }
        if (r.count > 0) {
            lua_rawgeti(L, 4, FGL_ENV_FIRST_CUSTOM + 2 * r.count);
            r.slots = lua_touserdata(L, -1);
            lua_pop(L, 1); /* the env keeps them */
            if (r.slots == NULL) r.count = 0; /* not the layout family_new made: resolve nothing */
        }
    }

    /* fgl_enter's bracket, should the new definition resolve a Custom()
     * (may raise: nothing changed yet) */
    if (r.count > 0) fgl_side_get(L, &f->host);
    fg_reload_options o;
    memset(&o, 0, sizeof o);
    o.resolve_custom = fgl_resolve;
    o.resolve_ud = &r;
    /* The old name and the totals so far (before anything changes: may
     * raise). Under another name they stay with the old one, as a renamed
     * breaker's do (its sink keeps them): counters never decrease. */
    fg_family_totals before;
    fg_family_totals_get(f->family, &before);
    lua_pushstring(L, fg_family_name(f->family)); /* copied, then maybe a collection step */
    int old_name = lua_gettop(L);
    /* Any allocation above may have taken a collection step, which runs
     * the family's own finalizer when it is reachable again only through a
     * weak-keyed table (lifetime_spec): closed under our feet. */
    if (f->family == NULL) fgl_check_family(L, 1, "reload"); /* raises: closed */
    char err[320];
    err[0] = '\0';
    if (fg_family_reload_with(f->family, p->policy, (size_t)index, &o, err, sizeof err) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    if (strcmp(lua_tostring(L, old_name), fg_family_name(f->family)) != 0) {
        fg_counters kept;
        fgl_family_counters(f, &before, &kept);
        f->exported = before.counters;
        fgl_add_totals(L, lua_tostring(L, old_name), &kept); /* may raise (memory): the reload stands */
    }
    /* Sticky, as for cb:reload: a later definition without Custom() only
     * makes fgl_enter's bracket unneeded, which costs little. */
    if (r.used) f->host.head.flags |= FGL_CALLBACKS;
    lua_pushboolean(L, 1);
    lua_pushboolean(L, r.used);
    return 2;
}

const luaL_Reg fgl_family_reload_funcs[] = {{"family_reload", fgl_family_reload}, {NULL, NULL}};
