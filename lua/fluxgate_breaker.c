/*
 * fluxgate_breaker.c -- breakers for Lua: making them (one userdata each,
 * with the engine's breaker), closing them (cb:close, __close and __gc are
 * one function), the module's list of open breakers and the per-name totals
 * of closed ones (so that Prometheus counters never decrease), and what
 * breakers and families share at creation (callback options, the
 * environment table, engine callbacks). The callbacks themselves, which call
 * Lua from inside the engine, are fluxgate_callback.c's.
 */
#include <string.h>

#include "fg_breaker_shared.h"
#include "fg_shm.h"
#include "fluxgate_lua.h"

const char fgl_class_mark = 0;

/* ---- identifying breakers ------------------------------------------------------ */

fgl_breaker *fgl_to_breaker(lua_State *L, int idx) {
    return fgl_to_marked(L, idx, &fgl_class_mark);
}

/* The breaker's name as its class holds it, pushed (for messages). */
static const char *fgl_push_name(lua_State *L, int idx) {
    if (lua_getmetatable(L, idx)) {
        lua_getfield(L, -1, "__breaker_name");
        lua_remove(L, -2);
        if (lua_type(L, -1) == LUA_TSTRING) return lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    lua_pushliteral(L, "?");
    return lua_tostring(L, -1);
}

fgl_breaker *fgl_check_breaker(lua_State *L, int idx, const char *fname) {
    fgl_breaker *b = fgl_to_breaker(L, idx);
    if (b == NULL) {
        luaL_error(L, "bad self to '%s' (a fluxgate breaker expected, got %s): call it as cb:%s(...), not cb.%s(...)",
                   fname, luaL_typename(L, idx), fname, fname);
    }
    if (b->head.engine == NULL) {
        luaL_error(L, "fluxgate: breaker '%s' is closed", fgl_push_name(L, idx));
    }
    if (fgl_call_of(b) != NULL) {
        luaL_error(L, "fluxgate: a breaker cannot be used from its own random function or Custom() predicate");
    }
    if (b->head.flags & FGL_SHARED) fgl_refuse_shared(L, b->side->module); /* a shared one has a side */
    return b;
}

void fgl_refuse_shared(lua_State *L, const fgl_module *m) {
    if (m->shared_held == 0) return;
    luaL_error(L, "fluxgate: shared breakers and families cannot be used from a shared breaker's random "
                  "function (it runs under that breaker's lock)");
}

/* shared_held() -> the address of the module's count of running shared
 * random functions (LuaJIT's FFI path reads it before every call). */
static int fgl_shared_held(lua_State *L) {
    fgl_module *m = lua_touserdata(L, FGL_MODULE_UPVALUE);
    lua_pushlightuserdata(L, &m->shared_held);
    return 1;
}

/* listen(self): transitions are queued for the Lua side from now on (the
 * first cb:on_transition). A closed breaker raises, as every other use does:
 * a listener added to it would never be called. */
static int fgl_listen(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1, "on_transition");
    fgl_side_get(L, b); /* the queue's bookkeeping (may raise: nothing changed yet) */
    if (fgl_add_engine_listener(b) != 0) return luaL_error(L, "fluxgate: out of memory adding a listener");
    return 0;
}

/* ---- the side structure ------------------------------------------------------- */

fgl_side *fgl_side_get(lua_State *L, fgl_breaker *b) {
    if (b->side != NULL) return b->side;
    fgl_module *m = lua_touserdata(L, FGL_MODULE_UPVALUE);
    fgl_side *s = m->alloc.fn(m->alloc.ud, NULL, 0, sizeof *s);
    if (s == NULL) luaL_error(L, "fluxgate: out of memory");
    memset(s, 0, sizeof *s);
    s->module = m;
    s->owner = b;
    b->side = s;
    m->sides++;
    return s;
}

/* ---- the module's list of open shared breakers ------------------------------- */

static void fgl_link(fgl_module *m, fgl_side *s) {
    s->prev = &m->list;
    s->next = m->list.next;
    m->list.next->prev = s;
    m->list.next = s;
}

static void fgl_unlink(fgl_side *s) {
    if (s->prev == NULL) return; /* not listed */
    s->prev->next = s->next;
    s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

void fgl_side_free(fgl_breaker *b) {
    fgl_side *s = b->side;
    if (s == NULL) return;
    fgl_unlink(s);
    fgl_module *m = s->module;
    fg_allocator a = m->alloc;
    if (s->events != NULL) a.fn(a.ud, s->events, (size_t)s->event_cap * sizeof *s->events, 0);
    b->side = NULL;
    a.fn(a.ud, s, sizeof *s, 0);
    m->sides--;
}

/* ---- closing ---------------------------------------------------------------- */

/* Adds a closed family's counters to its name's totals (the module's user
 * value [3]: name -> { [k] = count } with k as fluxgate_query.c's stats()
 * numbers them), sparse, so that a name seen once costs little. (Plain
 * breakers' counts stay in their name's counter sink.) */
void fgl_add_totals(lua_State *L, const char *name, const fg_counters *c) {
    uint64_t values[4 + FG_STATE_COUNT * FG_STATE_COUNT];
    values[0] = c->success;
    values[1] = c->failure;
    values[2] = c->ignored;
    values[3] = c->rejected;
    for (int from = 0; from < FG_STATE_COUNT; from++)
        for (int to = 0; to < FG_STATE_COUNT; to++)
            values[4 + from * FG_STATE_COUNT + to] = c->transitions[from][to];
    int any = 0;
    for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) any |= values[k] != 0;
    if (!any) return; /* a breaker that counted nothing leaves no trace */
    fgl_getuservalue(L, FGL_MODULE_UPVALUE);
    lua_rawgeti(L, -1, 3);
    lua_remove(L, -2);
    lua_getfield(L, -1, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, name);
    }
    for (int k = 0; k < (int)(sizeof values / sizeof values[0]); k++) {
        if (values[k] == 0) continue;
        lua_rawgeti(L, -1, k + 1);
        lua_Number have = lua_tonumber(L, -1);
        lua_pop(L, 1);
        fgl_pushcount(L, (lua_Integer)have + (lua_Integer)values[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_pop(L, 2);
}

/* close(breaker): frees the engine breaker now; idempotent. Also the
 * class's __gc and __close. */
static int fgl_close(lua_State *L) {
    fgl_breaker *b = fgl_to_breaker(L, 1);
    if (b == NULL) return luaL_error(L, "bad self to 'close' (a fluxgate breaker expected, got %s): call it as cb:close(), not cb.close()", luaL_typename(L, 1));
    if (b->head.engine == NULL) {
        fgl_side_free(b); /* one made before its engine call failed */
        return 0;
    }
    if (fgl_call_of(b) != NULL) return luaL_error(L, "fluxgate: cannot close a breaker from its own callback");
    /* A plain breaker's counts stay in its name's counter sink (freeing it
     * only takes it out of its state's count); a shared block keeps its
     * own (the next handle on it, in this process or after a reload,
     * exports them). */
    fg_breaker_free(b->head.engine);
    b->head.engine = NULL;
    b->head.flags |= FGL_CLOSED;
    if ((b->head.flags & FGL_SHARED) && b->side != NULL && b->side->shm != NULL) {
        fg_shm_release(b->side->shm);
        b->side->shm = NULL;
    }
    fgl_side_free(b); /* after the engine: no listener can queue into it now */
    b->head.pending = 0;
    return 0;
}

/* ---- making breakers -------------------------------------------------------- */

static size_t fgl_align8(size_t n) {
    return (n + (FG_BLOCK_ALIGN - 1)) & ~(size_t)(FG_BLOCK_ALIGN - 1);
}

static int fgl_opt_field(lua_State *L, int opts, const char *field) {
    lua_getfield(L, opts, field);
    return lua_type(L, -1);
}

/* ---- what breakers and families share at creation -------------------------------- */

void fgl_read_callback_opts(lua_State *L, int opts, fgl_callback_opts *cb, fg_breaker_options *o) {
    int top = lua_gettop(L);
    memset(cb, 0, sizeof *cb);
    cb->has_now = fgl_opt_field(L, opts, "now") == LUA_TNUMBER;
    cb->now = lua_tonumber(L, -1);
    cb->has_random = fgl_opt_field(L, opts, "random") == LUA_TFUNCTION;
    if (fgl_opt_field(L, opts, "seed_hi") == LUA_TNUMBER) {
        fgl_opt_field(L, opts, "seed_lo");
        o->has_seed = 1;
        o->seed = (uint64_t)lua_tonumber(L, -2) << 32 | (uint64_t)lua_tonumber(L, -1);
    }
    lua_settop(L, top);
    fgl_opt_field(L, opts, "clock_kind");
    o->clock_kind = (fg_clock_kind)lua_tointeger(L, -1);
    cb->ncustom = fgl_opt_field(L, opts, "custom") == LUA_TTABLE ? (int)fgl_rawlen(L, -1) / 2 : 0;
    cb->has_listeners = fgl_opt_field(L, opts, "listeners") == LUA_TTABLE;
    lua_settop(L, top);
}

void fgl_make_env(lua_State *L, int opts, const fgl_callback_opts *cb, fgl_breaker *host, fgl_resolver *r) {
    int self = lua_gettop(L);
    int ncustom = cb->ncustom;
    memset(r, 0, sizeof *r);
    int env = 0;
    if (cb->has_random || ncustom > 0 || cb->has_listeners) {
        lua_createtable(L, FGL_ENV_FIRST_CUSTOM - 1 + 2 * ncustom, 0);
        env = self + 1;
        for (int i = FGL_ENV_RANDOM; i < FGL_ENV_FIRST_CUSTOM; i++) {
            lua_pushboolean(L, 0);
            lua_rawseti(L, env, i);
        }
        if (cb->has_random) {
            lua_getfield(L, opts, "random");
            lua_rawseti(L, env, FGL_ENV_RANDOM);
        }
        if (cb->has_listeners) {
            lua_getfield(L, opts, "listeners");
            lua_rawseti(L, env, FGL_ENV_LISTENERS);
        }
        if (ncustom > 0) {
            lua_getfield(L, opts, "custom"); /* env + 1: name, predicate, name, ... */
            /* pairs: predicate at slot, name at slot + 1 */
            for (int i = 0; i < ncustom; i++) {
                lua_rawgeti(L, env + 1, 2 * i + 1);
                if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "fluxgate: Custom() names must be strings");
                lua_rawseti(L, env, FGL_ENV_FIRST_CUSTOM + 2 * i + 1);
                lua_rawgeti(L, env + 1, 2 * i + 2);
                if (lua_type(L, -1) != LUA_TFUNCTION) luaL_error(L, "fluxgate: Custom() predicates must be functions");
                lua_rawseti(L, env, FGL_ENV_FIRST_CUSTOM + 2 * i);
            }
            lua_pop(L, 1);
            r->slots = fgl_newuserdata(L, (size_t)ncustom * sizeof *r->slots, 0);
            lua_rawseti(L, env, FGL_ENV_FIRST_CUSTOM + 2 * ncustom); /* keeps the slots alive */
        }
        lua_pushvalue(L, env);
        fgl_setuservalue(L, self);
        host->head.flags |= FGL_HAS_ENV;
    }
    r->L = L;
    r->b = host;
    r->env_index = env;
    r->count = ncustom;
}

/* The module's table of environments, pushed. */
static void fgl_push_envs(lua_State *L) {
    fgl_getuservalue(L, FGL_MODULE_UPVALUE);
    lua_rawgeti(L, -1, FGL_MODULE_ENVS);
    lua_remove(L, -2);
}

void fgl_get_env(lua_State *L, int idx, const fgl_breaker *b) {
    if (b->head.flags & FGL_ENV_ASIDE) {
        int at = idx > 0 ? idx : lua_gettop(L) + idx + 1;
        fgl_push_envs(L);
        lua_pushvalue(L, at);
        lua_rawget(L, -2);
        lua_remove(L, -2);
        return;
    }
    fgl_getuservalue(L, idx);
}

void fgl_set_env(lua_State *L, int idx, fgl_breaker *b) {
#if LUA_VERSION_NUM >= 504
    lua_pushvalue(L, -1);
    if (!lua_setiuservalue(L, idx, 1)) { /* no slot: popped all the same */
        fgl_push_envs(L);
        lua_pushvalue(L, idx);
        lua_pushvalue(L, -3);
        lua_rawset(L, -3);
        lua_pop(L, 1);
        b->head.flags |= FGL_ENV_ASIDE;
    }
    lua_pop(L, 1);
#else
    fgl_setuservalue(L, idx);
#endif
    b->head.flags |= FGL_HAS_ENV;
}

void fgl_push_new_env(lua_State *L, fgl_breaker *host) {
    lua_createtable(L, FGL_ENV_FIRST_CUSTOM - 1, 0);
    for (int i = FGL_ENV_RANDOM; i < FGL_ENV_FIRST_CUSTOM; i++) {
        lua_pushboolean(L, 0);
        lua_rawseti(L, -2, i);
    }
    lua_pushvalue(L, -1);
    fgl_set_env(L, 1, host);
}

double fgl_clock(void *ud) {
    return ((const fgl_head *)ud)->now;
}

void fgl_set_callbacks(fg_breaker_options *o, const fgl_callback_opts *cb, fgl_breaker *host, fgl_resolver *r) {
    if (cb->has_now) {
        o->clock = fgl_clock;
        o->clock_ud = &host->head;
        host->head.now = cb->now;
        host->head.flags |= FGL_LUA_CLOCK;
    }
    if (cb->has_random) {
        o->random = fgl_random;
        o->random_ud = host;
    }
    o->resolve_custom = fgl_resolve;
    o->resolve_ud = r;
}

int fgl_close_out_of_memory(lua_State *L, lua_CFunction close, int self) {
    lua_pushcfunction(L, close);
    lua_pushvalue(L, self);
    lua_call(L, 1, 0);
    lua_pushnil(L);
    lua_pushliteral(L, "out of memory");
    return 2;
}

void fgl_push_made(lua_State *L, int self, const fgl_callback_opts *cb, fgl_breaker *host, const fgl_resolver *r) {
    if (cb->has_random || r->used) {
        fgl_side_get(L, host); /* fgl_enter's bracket (may raise: the object's __gc frees it) */
        host->head.flags |= FGL_CALLBACKS;
    }
    lua_pushvalue(L, self);
    lua_pushboolean(L, r->used);
}

/* A shared breaker's block made now, under the map's lock: placed fresh.
 * Nothing is carried from the block it replaces: the two are one chain in
 * the map, whose counters fg_breaker_info adds up (fg_shm.h "Chains"). */
typedef struct fgl_fresh_place {
    fg_policy *policy;
    size_t index;
    const fg_breaker_options *o;
    void *handle;
    fg_breaker *engine;
    char *err;
    size_t cap;
} fgl_fresh_place;

static int fgl_place_fresh(void *ud, void *region, size_t size) {
    fgl_fresh_place *f = ud;
    f->engine = fg_breaker_place(f->policy, f->index, f->o, f->handle, region, size, 0, f->err, f->cap);
    return f->engine != NULL ? 0 : -1;
}

/* Places the engine's handle on the block named after the breaker in the
 * shared map: attached when the map holds one of this definition, else
 * made. *status: fg_shm_status. NULL and err on failure. */
static fg_breaker *fgl_place_shared(fg_shm *map, fg_policy *policy, size_t index, const fg_breaker_options *o,
                                    void *handle, size_t block_size, int *status, char *err, size_t cap) {
    fgl_fresh_place f = {policy, index, o, handle, NULL, err, cap};
    const char *name = fg_policy_breaker_name(policy, index);
    void *block = fg_shm_region(map, name, FG_SHM_BREAKER, fg_breaker_definition_fingerprint(policy, index),
                                block_size, fgl_place_fresh, &f, status, err, cap);
    if (block == NULL) return NULL;
    fg_breaker *engine = f.engine;
    if (*status == FG_SHM_ATTACHED)
        engine = fg_breaker_place(policy, index, o, handle, block, block_size, 1, err, cap);
    if (engine != NULL) fg_breaker_set_zone(engine, map);
    return engine;
}

/* new_breaker(policy, index, class, opts) -> breaker, uses_custom | nil, err
 * opts (checked by fluxgate.lua): now (the Lua clock's first reading, or
 * nil), random, seed_hi/seed_lo (the seed as two 32-bit halves), clock_kind
 * (0 auto, 1 precise, 2 coarse), custom (an array: name, predicate, name,
 * predicate, ...), listeners (an array, or nil), shared (a shared map: the
 * block is the map's block of this name, attached or made; a third result
 * says "attached", "created" or "replaced"). */
static int fgl_new_breaker(lua_State *L) {
    fgl_module *m = lua_touserdata(L, FGL_MODULE_UPVALUE);
    fgl_policy *p = fgl_check_policy(L, 1);
    lua_Integer index = luaL_checkinteger(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_settop(L, 4);

    fg_breaker_options o = FG_BREAKER_OPTIONS_INIT;
    o.alloc = m->alloc;
    fgl_callback_opts cb;
    fgl_read_callback_opts(L, 4, &cb, &o);
    fgl_opt_field(L, 4, "shared");
    fg_shm *shm = lua_isnil(L, -1) ? NULL : fgl_to_shm(L, -1);
    if (!lua_isnil(L, -1) && shm == NULL) luaL_error(L, "fluxgate: opts.shared must be an open shared map");
    if (shm != NULL) fgl_refuse_shared(L, m); /* attaching may take the block's lock */
    lua_settop(L, 4);
    struct fg_shared_family *family = fgl_opt_shared_family(L, 4); /* a shared family's key: shm is its map */
    if (family != NULL && shm == NULL) luaL_error(L, "fluxgate: opts.family needs opts.shared, its map");

    /* One userdata holds everything a breaker is: this binding's part, the
     * engine's handle and its state block, so that collectgarbage("count")
     * sees all of it and the collector paces itself. It exists, closed,
     * before anything else can fail (liolib's pattern): its __gc runs
     * fg_breaker_free for whatever the engine call below makes. */
    /* The definition's own name, as the exposition will print it: a policy
     * file may spell any bytes in a quoted name. */
    if (fgl_definition_problem(L, p->policy, index) != 0) return 2;
    /* The name's counter sink (made now: it may raise); shared breakers
     * count in their shared block only (fluxgate_sink.c). A plain breaker
     * counts into its name's sink alone: its block keeps no counters of its
     * own (184 bytes less), and info().counters are the name's. */
    o.sink = shm == NULL ? fgl_sink_for(L, fg_policy_breaker_name(p->policy, (size_t)index)) : NULL;
    o.sink_only = shm == NULL;
    size_t handle_size = fg_breaker_handle_footprint(p->policy, (size_t)index);
    size_t block_size = fg_breaker_footprint_with(p->policy, (size_t)index, &o);
    /* A plain breaker lives in this Lua state's userdata: one thread uses it.
     * Shared breakers and family keys have blocks other processes map. */
    o.single_thread = shm == NULL && family == NULL;
    size_t own = fgl_align8(sizeof(fgl_breaker));
    /* a shared breaker's block is in the map; a user value slot (16 bytes
     * on Lua 5.4) only for a breaker that has an environment from the
     * start (fgl_make_env's rule), others get one aside (fgl_set_env) */
    int nuv = cb.has_random || cb.ncustom > 0 || cb.has_listeners;
    size_t block_room = shm != NULL ? 0 : FGL_BLOCK_SLACK + block_size;
    fgl_breaker *b = fgl_newuserdata(L, own + handle_size + block_room, nuv); /* index 5 */
    memset(b, 0, sizeof *b);
    b->tag = fgl_tag(b, &fgl_class_mark);
    lua_pushvalue(L, 3);
    lua_setmetatable(L, 5);
    /* A shared breaker's map reference and list place (may raise: the
     * userdata is closed) */
    if (shm != NULL) fgl_side_get(L, b);
    char *handle = (char *)b + own;

    fgl_resolver r;
    fgl_make_env(L, 4, &cb, b, &r);
    fgl_set_callbacks(&o, &cb, b, &r);

    char err[256];
    err[0] = '\0';
    luaL_checkstack(L, 8, "fluxgate callbacks");
    /* The handle is 8-aligned: Lua 5.4 and LuaJIT align userdata memory for
     * doubles and pointers, own and handle_size are multiples of 8, and
     * fg_breaker_place refuses anything else with a message. A plain
     * breaker's block starts the next cache line (fgl_block_at). */
    int status = FG_SHM_CREATED;
    fg_breaker *engine =
        family != NULL ? fgl_place_family_key(L, 4, family, p->policy, (size_t)index, &o, handle, &status, err, sizeof err)
        : shm != NULL ? fgl_place_shared(shm, p->policy, (size_t)index, &o, handle, block_size, &status, err, sizeof err)
                    : fg_breaker_place(p->policy, (size_t)index, &o, handle, fgl_block_at(handle + handle_size),
                                       block_size, 0, err, sizeof err);
    if (engine == NULL) {
        lua_pushnil(L);
        lua_pushstring(L, err[0] != '\0' ? err : "cannot make the breaker");
        return 2;
    }
    b->head.engine = engine;
    b->head.serial = ++m->next_serial;
    if (shm != NULL) {
        fg_shm_retain(shm);
        b->side->shm = shm;
        b->head.flags |= FGL_SHARED | (family != NULL ? FGL_FAMILY_KEY : 0);
        fgl_link(m, b->side); /* prometheus() walks shared breakers only */
    }
    /* The engine's listener (and its delivery queue, ~1.8 KB outside the
     * userdata) only for breakers that have Lua listeners: see fgl_listen. */
    if (cb.has_listeners) fgl_side_get(L, b); /* the queue's bookkeeping (may raise: __gc frees the breaker) */
    if (cb.has_listeners && fgl_add_engine_listener(b) != 0) return fgl_close_out_of_memory(L, fgl_close, 5);
    fgl_push_made(L, 5, &cb, b, &r);
    if (shm == NULL) return 2;
    lua_pushstring(L, status == FG_SHM_ATTACHED ? "attached" : status == FG_SHM_REPLACED ? "replaced" : "created");
    return 3;
}

/* env(breaker [, create]) -> the breaker's environment table, or nil; with
 * create, made when missing (cb:on_transition on a breaker without one). */
static int fgl_env(lua_State *L) {
    fgl_breaker *b = fgl_to_breaker(L, 1);
    if (b == NULL) return luaL_argerror(L, 1, "fluxgate breaker expected");
    if (b->head.flags & FGL_HAS_ENV) {
        fgl_get_env(L, 1, b);
        return 1;
    }
    if (!lua_toboolean(L, 2)) return 0;
    fgl_push_new_env(L, b);
    return 1;
}

/* pending(self) -> whether transitions or callback errors wait for drain
 * (LuaJIT's classic path asks after each C call). */
static int fgl_pending(lua_State *L) {
    fgl_breaker *b = fgl_to_breaker(L, 1);
    lua_pushboolean(L, b != NULL && b->head.pending != 0);
    return 1;
}

/* set_class(self, class): the breaker's class, once its engine path is known. */
static int fgl_set_class(lua_State *L) {
    if (fgl_to_breaker(L, 1) == NULL) return luaL_argerror(L, 1, "fluxgate breaker expected");
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 0;
}

const luaL_Reg fgl_breaker_funcs[] = {{"new_breaker", fgl_new_breaker}, {"close", fgl_close},
                                      {"env", fgl_env},                 {"pending", fgl_pending},
                                      {"set_class", fgl_set_class},     {"listen", fgl_listen},
                                      {"shared_held", fgl_shared_held}, {NULL, NULL}};
