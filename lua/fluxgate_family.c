/*
 * fluxgate_family.c -- families for Lua: one userdata per family holding
 * the engine's fg_family (breakers of one definition per key, made on first
 * use), and what is not the call protocol: making and closing families,
 * queries and commands by key, and the transition queue (each signal
 * carries its key). Listing keys and the aggregates for fam:stats and
 * Prometheus are fluxgate_family_stats.c's.
 *
 * The engine's Lua callbacks (a random function, Custom() predicates) are
 * the breakers' own (fluxgate_callback.c): the family's `host` is their
 * owner, so they run under lua_pcall with errors parked, exactly as for a
 * breaker. Listeners are never called from the engine: a C listener queues
 * each transition with a copy of its key, and family.lua drains the queue
 * after the engine call.
 *
 * Memory. Per key the engine makes one allocation (index entry, key bytes,
 * state block) through the Lua state's allocator, wrapped to count bytes:
 * the collector does not see it (only the userdata's own ~200 bytes), so
 * `bytes` tells what the family holds and a family should be closed
 * (fam:close()) rather than left to the collector when it is large.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "fluxgate_family.h"

const char fgl_family_mark = 0;

/* ---- identifying families and keys ------------------------------------------------ */

fgl_family *fgl_to_family(lua_State *L, int idx) {
    return fgl_to_marked(L, idx, &fgl_family_mark);
}

fgl_family *fgl_check_family(lua_State *L, int idx, const char *fname) {
    fgl_family *f = fgl_to_family(L, idx);
    if (f == NULL) {
        luaL_error(L, "bad self to '%s' (a fluxgate family expected, got %s): call it as fam:%s(...), not fam.%s(...)",
                   fname, luaL_typename(L, idx), fname, fname);
    }
    if (f->family == NULL) {
        const char *name = "?";
        if (lua_getmetatable(L, idx)) {
            lua_getfield(L, -1, "__family_name");
            if (lua_type(L, -1) == LUA_TSTRING) name = lua_tostring(L, -1);
        }
        luaL_error(L, "fluxgate: family '%s' is closed", name);
    }
    if (fgl_call_of(&f->host) != NULL) {
        luaL_error(L, "fluxgate: a family cannot be used from its own random function or Custom() predicate");
    }
    return f;
}

const char *fgl_family_key(lua_State *L, int idx, char *buf, size_t *len, const char *fname) {
    int t = lua_type(L, idx);
    if (t == LUA_TSTRING) return lua_tolstring(L, idx, len);
    if (t == LUA_TNUMBER) {
        lua_Number n = lua_tonumber(L, idx);
        /* integers only, as their decimal text: 42 and "42" are one key */
        if (n == n && n >= -9007199254740992.0 && n <= 9007199254740992.0 && n == (lua_Number)(long long)n) {
#if LUA_VERSION_NUM >= 504
            if (lua_isinteger(L, idx)) {
                *len = (size_t)snprintf(buf, 32, "%lld", (long long)lua_tointeger(L, idx));
                return buf;
            }
#endif
            *len = (size_t)snprintf(buf, 32, "%lld", (long long)n);
            return buf;
        }
#if LUA_VERSION_NUM >= 504
        if (lua_isinteger(L, idx)) {
            *len = (size_t)snprintf(buf, 32, "%lld", (long long)lua_tointeger(L, idx));
            return buf;
        }
#endif
        /* worded as family.lua's key_of (%.14g: Lua's own tostring) */
        char text[64];
        snprintf(text, sizeof text, "%.14g", (double)n);
        luaL_error(L, "bad argument #1 to '%s' (a family key is a string or an integer, got the number %s)", fname,
                   text);
    }
    luaL_error(L, "bad argument #1 to '%s' (a family key is a string or an integer, got %s)", fname,
               luaL_typename(L, idx));
    return NULL;
}

void fgl_family_read_clock(lua_State *L, fgl_family *f, int self_idx) {
    if (fgl_head_read_clock(L, &f->host.head, self_idx) && f->family == NULL)
        luaL_error(L, "fluxgate: the family was closed by its clock");
}

/* ---- engine callbacks -------------------------------------------------------------- */

/* The Lua state's allocator, counting what the family holds. */
static void *fgl_count_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    fgl_family *f = ud;
    void *p = f->lua.fn(f->lua.ud, ptr, ptr != NULL ? osize : 0, nsize);
    if (nsize == 0) f->bytes -= ptr != NULL ? (int64_t)osize : 0;
    else if (p != NULL) f->bytes += (int64_t)nsize - (ptr != NULL ? (int64_t)osize : 0);
    return p;
}

int fgl_family_grow(fgl_family *f, void **p, size_t *cap, size_t need, size_t unit) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 2;
    while (n < need) n *= 2;
    void *grown = f->lua.fn(f->lua.ud, *p, *cap * unit, n * unit);
    if (grown == NULL) return -1;
    *p = grown;
    *cap = n;
    return 0;
}

/* Queues a transition and its key: no Lua (it may run during an FFI call). */
static void fgl_family_on_transition(void *ud, const fg_transition *t) {
    fgl_family *f = ud;
    f->host.head.pending = 1;
    size_t cap = f->event_cap;
    if (fgl_family_grow(f, (void **)&f->events, &cap, (size_t)f->event_count + 1, sizeof *f->events) != 0 ||
        fgl_family_grow(f, (void **)&f->keys, &f->keys_cap, f->keys_len + t->key_len, 1) != 0) {
        f->event_cap = (uint32_t)cap;
        f->lost++;
        return;
    }
    f->event_cap = (uint32_t)cap;
    fgl_fevent *e = &f->events[f->event_count++];
    e->e.old_state = t->old_state;
    e->e.new_state = t->new_state;
    e->e.timestamp = t->timestamp;
    e->e.reason = t->reason;
    e->e.sequence = t->sequence;
    e->e.metric = t->metric;
    e->key_at = f->keys_len;
    e->key_len = t->key_len;
    if (t->key_len > 0) memcpy(f->keys + f->keys_len, t->key, t->key_len);
    f->keys_len += t->key_len;
}

static int fgl_family_add_engine_listener(fgl_family *f) {
    if (f->host.head.flags & FGL_LISTENING) return 0;
    if (fg_family_add_listener(f->family, fgl_family_on_transition, f) != 0) return -1;
    f->host.head.flags |= FGL_LISTENING;
    return 0;
}

/* ---- closing ---------------------------------------------------------------------- */

static void fgl_family_free_queue(fgl_family *f) {
    if (f->events != NULL) f->lua.fn(f->lua.ud, f->events, (size_t)f->event_cap * sizeof *f->events, 0);
    if (f->keys != NULL) f->lua.fn(f->lua.ud, f->keys, f->keys_cap, 0);
    f->events = NULL;
    f->keys = NULL;
    f->event_count = f->event_cap = 0;
    f->keys_len = f->keys_cap = 0;
    f->host.head.pending = 0;
}

/* family_close(fam): frees the engine's family and every key now;
 * idempotent; also the class's __gc and __close. Its counters (every key
 * it ever had) stay in its name's Prometheus totals. */
static int fgl_family_close(lua_State *L) {
    fgl_family *f = fgl_to_family(L, 1);
    if (f == NULL) return luaL_error(L, "bad self to 'close' (a fluxgate family expected, got %s): call it as fam:close()", luaL_typename(L, 1));
    if (f->family == NULL) {
        fgl_side_free(&f->host);
        return 0;
    }
    if (fgl_call_of(&f->host) != NULL) return luaL_error(L, "fluxgate: cannot close a family from its own callback");
    fg_family_totals totals;
    fg_family_totals_get(f->family, &totals);
    fg_counters mine; /* earlier names keep theirs already */
    fgl_family_counters(f, &totals, &mine);
    lua_pushstring(L, fg_family_name(f->family));
    fg_family_free(f->family);
    f->family = NULL;
    f->host.head.flags |= FGL_CLOSED; /* what the FFI path checks (fluxgate_lua.h) */
    ((fgl_module *)lua_touserdata(L, FGL_MODULE_UPVALUE))->family_closes++;
    fgl_family_free_queue(f);
    fgl_side_free(&f->host); /* after the engine: no callback runs now */
    fgl_add_totals(L, lua_tostring(L, -1), &mine); /* may raise (memory): nothing is held */
    return 0;
}

/* ---- making families ---------------------------------------------------------------- */

static int fgl_field(lua_State *L, int t, const char *field) {
    lua_getfield(L, t, field);
    return lua_type(L, -1);
}

/* family_new(policy, index, class, args) -> family, uses_custom | nil, err
 * args (checked by family.lua) as new_breaker's (now, random, seed_hi,
 * seed_lo, clock_kind, custom, listeners) plus max_keys, idle, lease,
 * per_key. */
static int fgl_family_new(lua_State *L) {
    fgl_module *m = lua_touserdata(L, FGL_MODULE_UPVALUE);
    fgl_policy *p = fgl_check_policy(L, 1);
    lua_Integer index = luaL_checkinteger(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_settop(L, 4);
    if (fgl_definition_problem(L, p->policy, index) != 0) return 2;

    fg_family_options o;
    memset(&o, 0, sizeof o);
    fgl_callback_opts cb;
    fgl_read_callback_opts(L, 4, &cb, &o.breaker);
    fgl_field(L, 4, "max_keys");
    o.max_keys = (size_t)lua_tonumber(L, -1);
    fgl_field(L, 4, "idle");
    o.idle = lua_tonumber(L, -1);
    fgl_field(L, 4, "lease");
    o.lease = lua_tonumber(L, -1);
    fgl_field(L, 4, "per_key");
    int per_key = lua_toboolean(L, -1);
    lua_settop(L, 4);

    /* closed (family NULL) until the engine call below fills it, so that
     * __gc is safe whatever fails in between */
    fgl_family *f = fgl_newuserdata(L, sizeof *f, 1); /* index 5 */
    memset(f, 0, sizeof *f);
    f->host.tag = fgl_tag(f, &fgl_family_mark);
    lua_pushvalue(L, 3);
    lua_setmetatable(L, 5);
    f->lua = m->alloc;
    f->per_key = per_key;

    fgl_resolver r;
    fgl_make_env(L, 4, &cb, &f->host, &r);
    o.breaker.alloc.fn = fgl_count_alloc;
    o.breaker.alloc.ud = f;
    fgl_set_callbacks(&o.breaker, &cb, &f->host, &r);

    char err[256];
    err[0] = '\0';
    luaL_checkstack(L, 8, "fluxgate callbacks");
    fg_family *family = fg_family_new(p->policy, (size_t)index, &o, err, sizeof err);
    if (family == NULL) {
        lua_pushnil(L);
        lua_pushstring(L, err[0] != '\0' ? err : "cannot make the family");
        return 2;
    }
    f->family = family;
    f->host.head.serial = ++m->next_serial;
    if (cb.has_listeners && fgl_family_add_engine_listener(f) != 0)
        return fgl_close_out_of_memory(L, fgl_family_close, 5);
    fgl_push_made(L, 5, &cb, &f->host, &r);
    return 2;
}

/* ---- queries and commands by key ---------------------------------------------------- */

/* Reads the clock and brackets the engine call (Lua callbacks may run). */
static fgl_family *fgl_family_begin(lua_State *L, const char *fname, fgl_call *c) {
    fgl_family *f = fgl_check_family(L, 1, fname);
    fgl_family_read_clock(L, f, 1);
    fgl_enter(L, &f->host, 1, c);
    return f;
}

/* family_get(fam, key) -> true | nil, err (the family is full) */
static int fgl_family_get(lua_State *L) {
    char buf[32], err[256];
    size_t len;
    lua_settop(L, 2);
    fgl_family *f = fgl_check_family(L, 1, "get");
    const char *key = fgl_family_key(L, 2, buf, &len, "get");
    fgl_call c;
    fgl_family_read_clock(L, f, 1);
    fgl_enter(L, &f->host, 1, &c);
    int rc = fg_family_get(f->family, key, len, err, sizeof err);
    fgl_leave(L, &f->host, &c);
    if (rc != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* family_state(fam, key) -> state name | nil (no such key), pending */
static int fgl_family_state(lua_State *L) {
    char buf[32];
    size_t len;
    lua_settop(L, 2);
    fgl_call c;
    fgl_check_family(L, 1, "state");
    const char *key = fgl_family_key(L, 2, buf, &len, "state"); /* before fgl_enter: it may raise */
    fgl_family *f = fgl_family_begin(L, "state", &c);
    int s = fg_family_state(f->family, key, len);
    fgl_leave(L, &f->host, &c);
    if (s < 0) lua_pushnil(L);
    else lua_pushstring(L, fg_state_name((fg_state)s));
    lua_pushboolean(L, f->host.head.pending != 0);
    return 2;
}

/* family_info(fam, key) -> info | nil (no such key), pending */
static int fgl_family_info(lua_State *L) {
    char buf[32];
    size_t len;
    lua_settop(L, 2);
    fg_info info;
    memset(&info, 0, sizeof info);
    fgl_family *f = fgl_check_family(L, 1, "info");
    const char *key = fgl_family_key(L, 2, buf, &len, "info");
    fgl_call c;
    fgl_family_read_clock(L, f, 1);
    fgl_enter(L, &f->host, 1, &c);
    int rc = fg_family_info(f->family, key, len, &info);
    fgl_leave(L, &f->host, &c);
    if (rc != 0) {
        lua_pushnil(L);
    } else {
        fgl_push_info(L, &info);
        lua_pushvalue(L, 2);
        lua_setfield(L, -2, "key");
    }
    lua_pushboolean(L, f->host.head.pending != 0);
    return 2;
}

/* family_command(fam, key, op) -> done (false: no such key), pending;
 * op 0 reset, 1 disable, 2 metrics_only, 3 force_open */
static int fgl_family_command(lua_State *L) {
    static const fg_state to[] = {FG_STATE_CLOSED, FG_STATE_DISABLED, FG_STATE_METRICS_ONLY, FG_STATE_FORCED_OPEN};
    char buf[32];
    size_t len;
    lua_settop(L, 3);
    lua_Integer op = luaL_checkinteger(L, 3);
    luaL_argcheck(L, op >= 0 && op <= 3, 3, "unknown command");
    fgl_family *f = fgl_check_family(L, 1, "command");
    const char *key = fgl_family_key(L, 2, buf, &len, "command");
    fgl_call c;
    fgl_family_read_clock(L, f, 1);
    fgl_enter(L, &f->host, 1, &c);
    int rc = fg_family_command(f->family, key, len, to[op]);
    fgl_leave(L, &f->host, &c);
    lua_pushboolean(L, rc == 0);
    lua_pushboolean(L, f->host.head.pending != 0);
    return 2;
}

static int fgl_family_size(lua_State *L) {
    fgl_family *f = fgl_check_family(L, 1, "size");
    lua_pushinteger(L, (lua_Integer)fg_family_size(f->family));
    return 1;
}


/* family_evict_idle(fam) -> keys evicted (a full sweep, O(keys)) */
static int fgl_family_evict_idle(lua_State *L) {
    fgl_family *f = fgl_check_family(L, 1, "evict_idle");
    lua_settop(L, 1);
    fgl_family_read_clock(L, f, 1);
    lua_pushinteger(L, (lua_Integer)fg_family_evict_idle(f->family));
    return 1;
}

/* ---- transitions ---------------------------------------------------------------------- */

/* family_listen(fam): the engine queues transitions from now on. */
static int fgl_family_listen(lua_State *L) {
    fgl_family *f = fgl_check_family(L, 1, "on_transition");
    if (fgl_family_add_engine_listener(f) != 0) return luaL_error(L, "fluxgate: out of memory adding a listener");
    return 0;
}

/* family_env(fam [, create]) -> the family's environment table, or nil */
static int fgl_family_env(lua_State *L) {
    fgl_family *f = fgl_to_family(L, 1);
    if (f == NULL) return luaL_argerror(L, 1, "fluxgate family expected");
    if (f->host.head.flags & FGL_HAS_ENV) {
        fgl_getuservalue(L, 1);
        return 1;
    }
    if (!lua_toboolean(L, 2)) return 0;
    fgl_push_new_env(L, &f->host);
    return 1;
}

static int fgl_family_pending(lua_State *L) {
    fgl_family *f = fgl_to_family(L, 1);
    lua_pushboolean(L, f != NULL && f->host.head.pending != 0);
    return 1;
}

/* family_drain(fam [, signals]) -> signals|nil, error|nil, lost
 * As drain for breakers; each signal also has `key`. */
static int fgl_family_drain(lua_State *L) {
    fgl_family *f = fgl_to_family(L, 1);
    if (f == NULL) return luaL_argerror(L, 1, "fluxgate family expected");
    int want = lua_toboolean(L, 2);
    lua_settop(L, 1);
    uint32_t n = f->event_count;
    if (want && n > 0) {
        lua_createtable(L, (int)n, 0);
        /* as fgl_drain: a collection step may run f's own finalizer, which
         * frees the queue, the keys and maybe the policy; each event is
         * copied while f is seen open, each string pushed while it is */
        for (uint32_t i = 0; i < n; i++) {
            if (f->family == NULL || i >= f->event_count) break;
            fgl_fevent e = f->events[i];
            fgl_push_signal(L, &e.e, 1);
            if (f->family == NULL) { /* closed by then: its keys too */
                lua_pop(L, 1);
                break;
            }
            lua_pushlstring(L, f->keys + e.key_at, e.key_len);
            lua_setfield(L, -2, "key");
            lua_rawseti(L, -2, (int)i + 1);
        }
    } else {
        lua_pushnil(L);
    }
    fgl_push_parked_error(L, &f->host);
    lua_pushinteger(L, (lua_Integer)f->lost);
    /* only now, after everything that could raise */
    f->event_count = 0;
    f->keys_len = 0;
    if (f->host.side != NULL) f->host.side->errors = 0;
    f->lost = 0;
    f->host.head.pending = 0;
    return 3;
}


/* family_cdef() -> the FFI's view of a family userdata (fgl_fam_view):
 * its fgl_head, and the engine's family at its offset. */
static int fgl_family_cdef(lua_State *L) {
    char text[1024];
    snprintf(text, sizeof text,
             "typedef struct fgl_fam_view { fgl_head head; char pad_[%u]; fg_family *family; } fgl_fam_view;"
             "typedef struct fgl_fam_token { fg_family_ticket ticket; uint64_t serial; int32_t released; } fgl_fam_token;"
             "%s",
             (unsigned)(offsetof(fgl_family, family) - sizeof(fgl_head)),
             FGL_EXPAND_STRINGIZE(FGL_FAMILY_FFI_FUNCTIONS));
    lua_pushstring(L, text);
    return 1;
}

/* family_init(drain): family.lua's drain, which the Lua 5.4 call paths call. */
static int fgl_family_init(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    fgl_getuservalue(L, FGL_MODULE_UPVALUE);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, FGL_HELPER_FAMILY_DRAIN);
    return 0;
}

/* family_closes() -> how many families this Lua state has closed so far. */
static int fgl_family_closes(lua_State *L) {
    fgl_pushcount(L, ((fgl_module *)lua_touserdata(L, FGL_MODULE_UPVALUE))->family_closes);
    return 1;
}

const luaL_Reg fgl_family_funcs[] = {
    {"family_new", fgl_family_new},
    {"family_closes", fgl_family_closes},
    {"family_close", fgl_family_close},
    {"family_get", fgl_family_get},
    {"family_state", fgl_family_state},
    {"family_info", fgl_family_info},
    {"family_command", fgl_family_command},
    {"family_size", fgl_family_size},
    {"family_evict_idle", fgl_family_evict_idle},
    {"family_listen", fgl_family_listen},
    {"family_env", fgl_family_env},
    {"family_pending", fgl_family_pending},
    {"family_drain", fgl_family_drain},
    {"family_cdef", fgl_family_cdef},
    {"family_init", fgl_family_init},
    {NULL, NULL}};
