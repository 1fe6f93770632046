/*
 * fluxgate_core.c -- the C half of the Lua binding: the module `fluxgate.core`.
 *
 * One source builds the module for Lua 5.4 and for LuaJIT 2.1 (the Lua 5.1
 * API, as OpenResty uses); the few API differences are shimmed below. Users
 * never require this module directly: lua/fluxgate.lua is the public face and
 * owns every policy decision of the binding (argument checks, outcome
 * extraction, listeners, Prometheus text). This file only moves data between
 * Lua values and include/fluxgate.h, and keeps two promises:
 *
 *   - No Lua error ever longjmps through the engine. Lua callbacks that the
 *     engine must call synchronously (a Lua random source, Custom()
 *     predicates) run under lua_pcall with stack space reserved beforehand,
 *     and their errors are parked until the engine call has returned.
 *   - No C heap is held when a Lua error can be raised: every engine object
 *     lives in a userdata created in a safe empty state *before* the engine
 *     call that fills it (liolib's pattern), so the garbage collector frees it
 *     whatever happens next (lua-cjson's rule).
 *
 * Listeners are never called from inside the engine. One C listener per
 * breaker copies each transition into a small fixed queue (no allocation),
 * and the Lua side drains the queue after every engine call. The queue and
 * the breaker pointer live in a plain struct (fgl_shared) whose declaration
 * is also handed to LuaJIT's ffi.cdef, so the FFI hot path reads it directly.
 */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fluxgate.h"

/* ---- Lua 5.1 (LuaJIT) / 5.4 shims --------------------------------------- */

#if LUA_VERSION_NUM >= 504
#define fgl_newuserdata(L, size) lua_newuserdatauv((L), (size), 1)
#define fgl_setuservalue(L, idx) lua_setiuservalue((L), (idx), 1)
#define fgl_getuservalue(L, idx) ((void)lua_getiuservalue((L), (idx), 1))
#define fgl_rawlen(L, idx) lua_rawlen((L), (idx))
/* Counters are exact integers on 5.4 ... */
#define fgl_pushcount(L, n) lua_pushinteger((L), (lua_Integer)(n))
#elif LUA_VERSION_NUM == 501
#define fgl_newuserdata(L, size) lua_newuserdata((L), (size))
#define fgl_setuservalue(L, idx) ((void)lua_setfenv((L), (idx)))
#define fgl_getuservalue(L, idx) lua_getfenv((L), (idx))
#define fgl_rawlen(L, idx) lua_objlen((L), (idx))
/* ... and doubles on 5.1, exact up to 2^53, which no counter reaches. */
#define fgl_pushcount(L, n) lua_pushnumber((L), (lua_Number)(n))
#else
#error "fluxgate.core supports Lua 5.4 and LuaJIT 2.1 (Lua 5.1 API)"
#endif

/* ---- the struct shared with LuaJIT's FFI -------------------------------- */

/* Declared once: expanded here as C and stringized for ffi.cdef. */
#define FGL_SHARED_DECL(...) __VA_ARGS__
#define FGL_STRINGIZE(...) #__VA_ARGS__
#define FGL_EXPAND_STRINGIZE(...) FGL_STRINGIZE(__VA_ARGS__)
#define FGL_SHARED_TYPES                                                       \
    enum { FGL_QUEUE_CAP = 8 };                                                \
    typedef struct fgl_event {                                                 \
        int32_t old_state;                                                     \
        int32_t new_state;                                                     \
        double timestamp;                                                      \
        const char *reason;                                                    \
        fg_metric metric;                                                      \
    } fgl_event;                                                               \
    typedef struct fgl_shared {                                                \
        fg_breaker *breaker;                                                   \
        double now;                                                            \
        uint32_t count;                                                        \
        uint32_t dropped;                                                      \
        uint32_t errors;                                                       \
        fgl_event events[FGL_QUEUE_CAP];                                       \
    } fgl_shared;

/* fgl_shared fields: breaker is NULL once closed; now is the time the Lua
 * clock gave for the current engine call (the engine's clock callback returns
 * it); count queued transitions; dropped transitions that found the queue
 * full; errors callback errors parked for the Lua side to report. */
FGL_SHARED_DECL(FGL_SHARED_TYPES)
static const char fgl_shared_cdef[] = FGL_EXPAND_STRINGIZE(FGL_SHARED_TYPES);

/* ---- userdata ------------------------------------------------------------ */

#define FGL_POLICY_MT "fluxgate.policy"
#define FGL_BREAKER_MT "fluxgate.breaker"
#define FGL_REPORT_MT "fluxgate.report"

typedef struct fgl_policy {
    fg_policy *policy; /* NULL until compiled, and after __gc */
} fgl_policy;

/* Owns a report while its text is turned into a Lua string, so that a memory
 * error while pushing cannot leak it. */
typedef struct fgl_report_box {
    fg_report *report;
} fgl_report_box;

struct fgl_breaker;

/* One Custom() name the breaker can resolve: the Lua predicate is env[env_slot]. */
typedef struct fgl_custom_slot {
    struct fgl_breaker *owner;
    const char *name; /* a Lua string kept alive by env[FGL_ENV_NAMES] */
    int env_slot;
    int used;         /* the engine resolved this name */
} fgl_custom_slot;

/* The breaker's environment table (its user value) holds every Lua value the
 * C side needs; a userdata's user value is only reachable through it, so the
 * closures there may refer back to the breaker without leaking it. */
enum {
    FGL_ENV_RANDOM = 1, /* the Lua random function, or false */
    FGL_ENV_SLOTS,      /* the fgl_custom_slot array userdata, or false */
    FGL_ENV_NAMES,      /* the names table the slots point into, or false */
    FGL_ENV_ERROR,      /* the first parked callback error, or false */
    FGL_ENV_FIRST_CUSTOM
};

typedef struct fgl_breaker {
    fgl_shared shared;       /* first member: the FFI pointer is to this */
    int has_callbacks;       /* a Lua random source or Custom() predicates */
    /* Valid only while the engine runs a call made from Lua: */
    lua_State *L;            /* the thread (coroutine) that made the call */
    int env_index;           /* stack index of the environment table */
    int outcome_index;       /* stack index of the outcome table, or 0 */
    int parked_index;        /* stack index of the first callback error, or 0 */
    const char *parked_what; /* which callback failed */
    fgl_custom_slot *slots;
    int slot_count;
} fgl_breaker;

/* A failing Lua random source draws this: the conservative answer, which
 * rejects every permit but Random(1) and waits the longest jitter. */
static const double fgl_random_fallback = 0.99999999999999989;

static fg_allocator fgl_allocator(lua_State *L) {
    fg_allocator a;
    a.fn = lua_getallocf(L, &a.ud);
    return a;
}

static void fgl_push_u64(lua_State *L, uint64_t v) {
#if LUA_VERSION_NUM >= 504
    lua_pushinteger(L, (lua_Integer)v);
#else
    lua_pushnumber(L, (lua_Number)v);
#endif
}

static uint64_t fgl_check_u64(lua_State *L, int idx) {
#if LUA_VERSION_NUM >= 504
    return (uint64_t)luaL_checkinteger(L, idx);
#else
    lua_Number n = luaL_checknumber(L, idx);
    return n > 0 ? (uint64_t)n : 0;
#endif
}

/* ---- reports ------------------------------------------------------------- */

static fgl_report_box *fgl_new_report_box(lua_State *L) {
    fgl_report_box *box = fgl_newuserdata(L, sizeof *box);
    box->report = NULL;
    luaL_getmetatable(L, FGL_REPORT_MT);
    lua_setmetatable(L, -2);
    return box;
}

static int fgl_report_gc(lua_State *L) {
    fgl_report_box *box = luaL_checkudata(L, 1, FGL_REPORT_MT);
    fg_report_free(box->report);
    box->report = NULL;
    return 0;
}

/* Pushes the box's report as one string (without the final newline) and frees
 * the report. The box stays on the stack below the string until it returns. */
static void fgl_push_report(lua_State *L, fgl_report_box *box) {
    char small[512];
    if (box->report == NULL) {
        lua_pushliteral(L, "out of memory");
        return;
    }
    size_t n = fg_report_format(box->report, small, sizeof small);
    if (n < sizeof small) {
        while (n > 0 && small[n - 1] == '\n') n--;
        lua_pushlstring(L, small, n);
    } else {
        char *big = fgl_newuserdata(L, n + 1); /* may raise: the box owns the report */
        fg_report_format(box->report, big, n + 1);
        while (n > 0 && big[n - 1] == '\n') n--;
        lua_pushlstring(L, big, n);
        lua_remove(L, -2);
    }
    fg_report_free(box->report);
    box->report = NULL;
}

/* ---- policies ------------------------------------------------------------- */

static fgl_policy *fgl_new_policy(lua_State *L) {
    fgl_policy *p = fgl_newuserdata(L, sizeof *p);
    p->policy = NULL;
    luaL_getmetatable(L, FGL_POLICY_MT);
    lua_setmetatable(L, -2);
    return p;
}

static fgl_policy *fgl_check_policy(lua_State *L, int idx) {
    fgl_policy *p = luaL_checkudata(L, idx, FGL_POLICY_MT);
    if (p->policy == NULL) luaL_argerror(L, idx, "policy is freed");
    return p;
}

static int fgl_policy_gc(lua_State *L) {
    fgl_policy *p = luaL_checkudata(L, 1, FGL_POLICY_MT);
    fg_policy_free(p->policy); /* breakers keep their own reference */
    p->policy = NULL;
    return 0;
}

/* Stack: ... policy-userdata report-box. Returns the policy, or nil and the
 * formatted report. Warnings of a successful compilation are dropped. */
static int fgl_policy_result(lua_State *L, fgl_policy *p, fgl_report_box *box) {
    if (p->policy != NULL) {
        fg_report_free(box->report);
        box->report = NULL;
        lua_pop(L, 1);
        return 1;
    }
    lua_pushnil(L);
    fgl_push_report(L, box);
    return 2;
}

/* compile(source [, chunk]) -> policy | nil, err */
static int fgl_compile(lua_State *L) {
    size_t len;
    const char *source = luaL_checklstring(L, 1, &len);
    const char *chunk = luaL_optstring(L, 2, NULL);
    fg_allocator a = fgl_allocator(L);
    fgl_policy *p = fgl_new_policy(L);
    fgl_report_box *box = fgl_new_report_box(L);
    p->policy = fg_policy_compile(source, len, chunk, &a, &box->report);
    return fgl_policy_result(L, p, box);
}

/* load(path) -> policy | nil, err */
static int fgl_load(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    fg_allocator a = fgl_allocator(L);
    fgl_policy *p = fgl_new_policy(L);
    fgl_report_box *box = fgl_new_report_box(L);
    p->policy = fg_policy_load(path, &a, &box->report);
    return fgl_policy_result(L, p, box);
}

/* from_expressions(name, window, tracker, tripper, retry, permit,
 *                  max_half_open_calls, half_open_lease) -> policy | nil, err
 * Every expression is a string or nil (the default). */
static int fgl_from_expressions(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    fg_expressions e;
    e.window = luaL_optstring(L, 2, NULL);
    e.tracker = luaL_optstring(L, 3, NULL);
    e.tripper = luaL_optstring(L, 4, NULL);
    e.retry = luaL_optstring(L, 5, NULL);
    e.permit = luaL_optstring(L, 6, NULL);
    e.max_half_open_calls = luaL_optstring(L, 7, NULL);
    e.half_open_lease = luaL_optstring(L, 8, NULL);
    fg_allocator a = fgl_allocator(L);
    fgl_policy *p = fgl_new_policy(L);
    fgl_report_box *box = fgl_new_report_box(L);
    p->policy = fg_policy_from_expressions(name, &e, &a, &box->report);
    return fgl_policy_result(L, p, box);
}

/* policy_names(policy) -> { name, ... } in file order */
static int fgl_policy_names(lua_State *L) {
    fgl_policy *p = fgl_check_policy(L, 1);
    size_t n = fg_policy_breaker_count(p->policy);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, fg_policy_breaker_name(p->policy, i));
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* policy_find(policy, name) -> index | nil */
static int fgl_policy_find(lua_State *L) {
    fgl_policy *p = fgl_check_policy(L, 1);
    long index = fg_policy_find_breaker(p->policy, luaL_checkstring(L, 2));
    if (index < 0) return 0;
    lua_pushinteger(L, (lua_Integer)index);
    return 1;
}

/* policy_disassemble(policy, index) -> text */
static int fgl_policy_disassemble(lua_State *L) {
    fgl_policy *p = fgl_check_policy(L, 1);
    size_t index = (size_t)luaL_checkinteger(L, 2);
    char small[1];
    size_t n = fg_policy_disassemble(p->policy, index, small, sizeof small);
    char *text = fgl_newuserdata(L, n + 1); /* Lua memory: nothing to free on error */
    fg_policy_disassemble(p->policy, index, text, n + 1);
    lua_pushlstring(L, text, n);
    return 1;
}

/* ---- breakers: engine callbacks ------------------------------------------- */

/* Parks the error value on top of the stack (the first one of this engine
 * call stays on the stack; later ones are only counted). */
static void fgl_park_error(fgl_breaker *b, lua_State *L, const char *what) {
    if (b->parked_index == 0) {
        b->parked_index = lua_gettop(L);
        b->parked_what = what;
    } else {
        lua_pop(L, 1);
    }
    b->shared.errors++;
}

static double fgl_clock(void *ud) {
    return ((const fgl_shared *)ud)->now;
}

static double fgl_random(void *ud) {
    fgl_breaker *b = ud;
    lua_State *L = b->L;
    if (L == NULL) return fgl_random_fallback; /* not inside a Lua call */
    lua_rawgeti(L, b->env_index, FGL_ENV_RANDOM);
    if (lua_pcall(L, 0, 1, 0) != 0) {
        fgl_park_error(b, L, "random function");
        return fgl_random_fallback;
    }
    double r = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(r >= 0.0 && r < 1.0)) {
        lua_pushliteral(L, "returned a value outside [0, 1)");
        lua_replace(L, -2);
        fgl_park_error(b, L, "random function");
        return fgl_random_fallback;
    }
    lua_pop(L, 1);
    return r;
}

static int fgl_custom_call(void *ud, const fg_outcome *outcome) {
    fgl_custom_slot *slot = ud;
    fgl_breaker *b = slot->owner;
    lua_State *L = b->L;
    (void)outcome; /* the Lua side built the richer outcome table */
    if (L == NULL || b->outcome_index == 0) return -1;
    lua_rawgeti(L, b->env_index, slot->env_slot);
    lua_pushvalue(L, b->outcome_index);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        fgl_park_error(b, L, slot->name);
        return -1;
    }
    int matched = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return matched;
}

static int fgl_resolve(void *ud, const char *name, fg_custom *out) {
    fgl_breaker *b = ud;
    for (int i = 0; i < b->slot_count; i++) {
        if (strcmp(b->slots[i].name, name) == 0) {
            b->slots[i].used = 1;
            out->fn = fgl_custom_call;
            out->ud = &b->slots[i];
            return 1;
        }
    }
    return 0;
}

/* Copies a transition into the queue: no allocation, no Lua. The reason
 * points into the policy, which the breaker keeps alive. */
static void fgl_on_transition(void *ud, const fg_transition *t) {
    fgl_shared *s = ud;
    if (s->count >= FGL_QUEUE_CAP) {
        s->dropped++;
        return;
    }
    fgl_event *e = &s->events[s->count++];
    e->old_state = (int32_t)t->old_state;
    e->new_state = (int32_t)t->new_state;
    e->timestamp = t->timestamp;
    e->reason = t->reason;
    e->metric = t->metric;
}

/* ---- breakers: entering and leaving the engine ----------------------------- */

/* Every function below that calls the engine takes the breaker at index 1 and
 * an optional `now` (the Lua clock's reading) at index 2. */
static fgl_breaker *fgl_check_breaker(lua_State *L, int idx) {
    fgl_breaker *b = lua_touserdata(L, idx);
    int same = 0;
    if (b != NULL && lua_getmetatable(L, idx)) {
        same = lua_rawequal(L, -1, lua_upvalueindex(1));
        lua_pop(L, 1);
    }
    if (!same) luaL_argerror(L, idx, "fluxgate breaker expected");
    if (b->shared.breaker == NULL) luaL_argerror(L, idx, "the breaker is closed");
    if (b->L != NULL) luaL_error(L, "fluxgate: a breaker cannot be used from its own random function or Custom() predicate");
    return b;
}

/* Prepares an engine call: everything that may raise happens here, before the
 * engine is touched. Returns 1 when `now` was given. */
static int fgl_enter(lua_State *L, fgl_breaker *b, int now_idx, double *now) {
    int has_now = !lua_isnoneornil(L, now_idx);
    if (has_now) {
        *now = luaL_checknumber(L, now_idx);
        b->shared.now = *now;
    }
    if (b->has_callbacks) {
        luaL_checkstack(L, 8, "fluxgate callbacks");
        fgl_getuservalue(L, 1);
        b->env_index = lua_gettop(L);
        b->parked_index = 0;
        b->L = L;
    }
    return has_now;
}

/* Ends an engine call: moves a parked callback error into the environment for
 * the Lua side to report, and restores the stack. */
static void fgl_leave(lua_State *L, fgl_breaker *b) {
    if (!b->has_callbacks) return;
    b->L = NULL;
    b->outcome_index = 0;
    if (b->parked_index != 0) {
        lua_rawgeti(L, b->env_index, FGL_ENV_ERROR);
        int had_one = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (!had_one) {
            lua_pushfstring(L, "%s: ", b->parked_what);
            lua_pushvalue(L, b->parked_index);
            if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
                lua_pop(L, 1);
                lua_pushstring(L, luaL_typename(L, b->parked_index));
                lua_pushliteral(L, " error value");
                lua_concat(L, 2);
            }
            lua_concat(L, 2);
            lua_rawseti(L, b->env_index, FGL_ENV_ERROR);
        }
        b->parked_index = 0;
    }
    lua_settop(L, b->env_index - 1);
}

static int fgl_pending(const fgl_breaker *b) {
    return (int)(b->shared.count + b->shared.errors + b->shared.dropped);
}

/* ---- breakers: construction and lifetime ------------------------------------ */

static int fgl_breaker_gc(lua_State *L) {
    fgl_breaker *b = luaL_checkudata(L, 1, FGL_BREAKER_MT);
    if (b->shared.breaker != NULL && b->L == NULL) {
        fg_breaker_free(b->shared.breaker);
        b->shared.breaker = NULL;
    }
    return 0;
}

/* new_breaker(policy, index, now|nil, random|nil, seed|nil, names|nil, fns|nil)
 *   -> breaker, uses_custom | nil, err
 * names/fns are parallel arrays of the Custom() predicates the breaker may
 * resolve (opts.custom merged over fluxgate.register's, done in Lua). */
static int fgl_new_breaker(lua_State *L) {
    fgl_policy *p = fgl_check_policy(L, 1);
    lua_Integer index = luaL_checkinteger(L, 2);
    int has_now = !lua_isnoneornil(L, 3);
    double now = has_now ? luaL_checknumber(L, 3) : 0.0;
    if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TFUNCTION);
    int has_seed = !lua_isnoneornil(L, 5);
    uint64_t seed = has_seed ? fgl_check_u64(L, 5) : 0;
    int n = 0;
    if (!lua_isnoneornil(L, 6)) {
        luaL_checktype(L, 6, LUA_TTABLE);
        luaL_checktype(L, 7, LUA_TTABLE);
        n = (int)fgl_rawlen(L, 6);
    }
    lua_settop(L, 7);

    /* The breaker exists, empty, before anything else can fail. */
    fgl_breaker *b = fgl_newuserdata(L, sizeof *b); /* index 8 */
    memset(b, 0, sizeof *b);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setmetatable(L, 8);

    lua_createtable(L, FGL_ENV_FIRST_CUSTOM - 1 + n, 0); /* index 9 */
    for (int i = FGL_ENV_RANDOM; i < FGL_ENV_FIRST_CUSTOM; i++) {
        lua_pushboolean(L, 0);
        lua_rawseti(L, 9, i);
    }
    if (!lua_isnil(L, 4)) {
        lua_pushvalue(L, 4);
        lua_rawseti(L, 9, FGL_ENV_RANDOM);
    }
    if (n > 0) {
        b->slots = fgl_newuserdata(L, (size_t)n * sizeof *b->slots);
        lua_rawseti(L, 9, FGL_ENV_SLOTS);
        lua_pushvalue(L, 6);
        lua_rawseti(L, 9, FGL_ENV_NAMES);
        for (int i = 0; i < n; i++) {
            lua_rawgeti(L, 6, i + 1);
            if (lua_type(L, -1) != LUA_TSTRING) luaL_argerror(L, 6, "Custom() names must be strings");
            b->slots[i].name = lua_tostring(L, -1);
            lua_pop(L, 1);
            b->slots[i].owner = b;
            b->slots[i].env_slot = FGL_ENV_FIRST_CUSTOM + i;
            b->slots[i].used = 0;
            lua_rawgeti(L, 7, i + 1);
            if (lua_type(L, -1) != LUA_TFUNCTION) luaL_argerror(L, 7, "Custom() predicates must be functions");
            lua_rawseti(L, 9, FGL_ENV_FIRST_CUSTOM + i);
        }
        b->slot_count = n;
    }
    lua_pushvalue(L, 9);
    fgl_setuservalue(L, 8);

    fg_breaker_options o;
    memset(&o, 0, sizeof o);
    o.alloc = fgl_allocator(L);
    if (has_now) {
        o.clock = fgl_clock;
        o.clock_ud = &b->shared;
        b->shared.now = now;
    }
    if (!lua_isnil(L, 4)) {
        o.random = fgl_random;
        o.random_ud = b;
    }
    o.has_seed = has_seed;
    o.seed = seed;
    o.resolve_custom = fgl_resolve;
    o.resolve_ud = b;

    char err[256];
    err[0] = '\0';
    luaL_checkstack(L, 8, "fluxgate callbacks");
    b->env_index = 9;
    b->L = L;
    b->shared.breaker = fg_breaker_new(p->policy, (size_t)index, &o, err, sizeof err);
    b->L = NULL;
    lua_settop(L, 9);
    if (b->shared.breaker == NULL) {
        lua_pushnil(L);
        lua_pushstring(L, err[0] != '\0' ? err : "cannot make the breaker");
        return 2;
    }
    if (fg_breaker_add_listener(b->shared.breaker, fgl_on_transition, &b->shared) != 0) {
        fg_breaker_free(b->shared.breaker);
        b->shared.breaker = NULL;
        lua_pushnil(L);
        lua_pushliteral(L, "out of memory");
        return 2;
    }
    int uses_custom = 0;
    for (int i = 0; i < n; i++) uses_custom |= b->slots[i].used;
    b->has_callbacks = !lua_isnil(L, 4) || uses_custom;
    lua_pushvalue(L, 8);
    lua_pushboolean(L, uses_custom);
    return 2;
}

/* close(breaker): frees the engine breaker now; idempotent, like __gc. */
static int fgl_close(lua_State *L) {
    fgl_breaker *b = lua_touserdata(L, 1);
    luaL_checkudata(L, 1, FGL_BREAKER_MT);
    if (b->L != NULL) return luaL_error(L, "fluxgate: cannot close a breaker from its own callback");
    return fgl_breaker_gc(L);
}

/* pointer(breaker) -> lightuserdata to its fgl_shared (for ffi.cast) */
static int fgl_pointer(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    lua_pushlightuserdata(L, &b->shared);
    return 1;
}

/* ---- breakers: the call protocol (classic API) ------------------------------ */

/* acquire(breaker [, now])
 *   -> admitted, state, generation|retry_after, started_at, slot, slot_seq, pending
 * Always seven values. Admitted: true and the ticket's fields. Rejected:
 * false, the state, and retry_after (nil when unknown). pending != 0 asks the
 * Lua side to drain transitions and parked errors. */
static int fgl_acquire(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    lua_settop(L, 2);
    double now = 0.0;
    fg_ticket t;
    int has_now = fgl_enter(L, b, 2, &now);
    int admitted = has_now ? fg_breaker_acquire_at(b->shared.breaker, now, &t)
                           : fg_breaker_acquire(b->shared.breaker, &t);
    fgl_leave(L, b);
    lua_pushboolean(L, admitted);
    lua_pushinteger(L, (lua_Integer)t.state);
    if (admitted) {
        fgl_push_u64(L, t.generation);
        lua_pushnumber(L, t.started_at);
        lua_pushinteger(L, (lua_Integer)t.slot);
        lua_pushinteger(L, (lua_Integer)t.slot_seq);
    } else {
        if (t.retry_after >= 0) lua_pushnumber(L, t.retry_after);
        else lua_pushnil(L);
        lua_pushnil(L);
        lua_pushnil(L);
        lua_pushnil(L);
    }
    lua_pushinteger(L, fgl_pending(b));
    return 7;
}

/* A Lua number as an outcome's status; non-numbers and non-finite values
 * mean "no status". */
static int fgl_status(lua_State *L, int idx, int64_t *out) {
    if (lua_type(L, idx) != LUA_TNUMBER) return 0;
    double d = lua_tonumber(L, idx);
    if (!(d > -9.0e18 && d < 9.0e18)) return 0;
    *out = (int64_t)d;
    return 1;
}

/* Reads the ticket that acquire handed to Lua from arguments idx..idx+4:
 * state, generation, started_at, slot, slot_seq. */
static void fgl_check_ticket(lua_State *L, int idx, fg_ticket *t) {
    lua_Integer state = luaL_checkinteger(L, idx);
    luaL_argcheck(L, state >= 0 && state < FG_STATE_COUNT, idx, "not a state");
    t->admitted = 1;
    t->state = (fg_state)state;
    t->generation = fgl_check_u64(L, idx + 1);
    t->started_at = luaL_checknumber(L, idx + 2);
    t->slot = (int32_t)luaL_checkinteger(L, idx + 3);
    t->slot_seq = (uint32_t)luaL_checkinteger(L, idx + 4);
    t->retry_after = -1.0;
}

/* Classifies and records an outcome; the stack holds the breaker at 1 and
 * `now` (or nil) at 2. Returns the verdict. */
static fg_verdict fgl_settle(lua_State *L, fgl_breaker *b, const fg_ticket *t, const fg_outcome *o,
                             double duration, int outcome_index) {
    double now = 0.0;
    int has_now = fgl_enter(L, b, 2, &now);
    b->outcome_index = outcome_index;
    int outcome_class = fg_breaker_classify(b->shared.breaker, o);
    fg_verdict v = has_now ? fg_breaker_record_at(b->shared.breaker, t, outcome_class, duration, now)
                           : fg_breaker_record(b->shared.breaker, t, outcome_class, duration);
    fgl_leave(L, b);
    return v;
}

/* release(breaker, now|nil, state, generation, started_at, slot, slot_seq,
 *         is_error, status|nil, type|nil, message|nil, duration|nil, outcome|nil)
 *   -> verdict, pending
 * outcome is the table handed to Custom() predicates (only when the breaker
 * has some). A nil duration means "since acquire". */
static int fgl_release(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    fg_ticket t;
    fg_outcome o;
    lua_settop(L, 13);
    fgl_check_ticket(L, 3, &t);
    memset(&o, 0, sizeof o);
    o.is_error = lua_toboolean(L, 8);
    o.has_status = fgl_status(L, 9, &o.status);
    if (lua_type(L, 10) == LUA_TSTRING) o.type = lua_tolstring(L, 10, &o.type_len);
    if (lua_type(L, 11) == LUA_TSTRING) o.message = lua_tolstring(L, 11, &o.message_len);
    double duration = luaL_optnumber(L, 12, -1.0);
    fg_verdict v = fgl_settle(L, b, &t, &o, duration, lua_istable(L, 13) ? 13 : 0);
    lua_pushinteger(L, (lua_Integer)v);
    lua_pushinteger(L, fgl_pending(b));
    return 2;
}

/* release_ok(breaker, now|nil, state, generation, started_at, slot, slot_seq,
 *            status|nil) -> pending
 * The hot path of a call that returned: a result, with a status or not,
 * timed since acquire, on a breaker without Custom() predicates. */
static int fgl_release_ok(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    fg_ticket t;
    fg_outcome o;
    lua_settop(L, 8);
    fgl_check_ticket(L, 3, &t);
    memset(&o, 0, sizeof o);
    o.has_status = fgl_status(L, 8, &o.status);
    fgl_settle(L, b, &t, &o, -1.0, 0);
    lua_pushinteger(L, fgl_pending(b));
    return 1;
}

/* ---- breakers: queries and commands ---------------------------------------- */

/* state(breaker [, now]) -> state name */
static int fgl_state(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    lua_settop(L, 2);
    double now = 0.0;
    fgl_enter(L, b, 2, &now);
    fg_state s = fg_breaker_state(b->shared.breaker);
    fgl_leave(L, b);
    lua_pushstring(L, fg_state_name(s));
    return 1;
}

/* command(breaker, now|nil, op) -> pending; op 0 reset, 1 disable,
 * 2 metrics_only, 3 force_open */
static int fgl_command(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    lua_settop(L, 3);
    lua_Integer op = luaL_checkinteger(L, 3);
    luaL_argcheck(L, op >= 0 && op <= 3, 3, "unknown command");
    double now = 0.0;
    fgl_enter(L, b, 2, &now);
    switch (op) {
    case 0: fg_breaker_reset(b->shared.breaker); break;
    case 1: fg_breaker_disable(b->shared.breaker); break;
    case 2: fg_breaker_metrics_only(b->shared.breaker); break;
    default: fg_breaker_force_open(b->shared.breaker); break;
    }
    fgl_leave(L, b);
    lua_pushinteger(L, fgl_pending(b));
    return 1;
}

/* Pushes a metric as info() shows it: averages and rates are nil when the
 * window is empty, slow_counts is keyed by threshold. */
static void fgl_push_metric(lua_State *L, const fg_metric *m) {
    lua_createtable(L, 0, 6);
    fgl_pushcount(L, m->total_count);
    lua_setfield(L, -2, "total_count");
    fgl_pushcount(L, m->failure_count);
    lua_setfield(L, -2, "failure_count");
    lua_pushnumber(L, m->total_duration);
    lua_setfield(L, -2, "total_duration");
    if (m->total_count > 0) {
        lua_pushnumber(L, m->total_duration / (double)m->total_count);
        lua_setfield(L, -2, "avg_duration");
        lua_pushnumber(L, (double)m->failure_count / (double)m->total_count);
        lua_setfield(L, -2, "failure_rate");
    }
    uint32_t n = m->threshold_count < FG_MAX_SLOW_THRESHOLDS ? m->threshold_count : FG_MAX_SLOW_THRESHOLDS;
    lua_createtable(L, 0, (int)n);
    for (uint32_t i = 0; i < n; i++) {
        lua_pushnumber(L, m->thresholds[i]);
        fgl_pushcount(L, m->slow_counts[i]);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "slow_counts");
}

/* info(breaker [, now]) -> { name, state, changed_at, reopens,
 *   consecutive_failures, generation, half_open_in_flight, metrics } */
static int fgl_info(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    lua_settop(L, 2);
    double now = 0.0;
    fg_info info;
    fgl_enter(L, b, 2, &now);
    fg_breaker_info(b->shared.breaker, &info);
    fgl_leave(L, b);
    lua_createtable(L, 0, 8);
    lua_pushstring(L, info.name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, fg_state_name(info.state));
    lua_setfield(L, -2, "state");
    lua_pushnumber(L, info.changed_at);
    lua_setfield(L, -2, "changed_at");
    fgl_pushcount(L, info.reopens);
    lua_setfield(L, -2, "reopens");
    fgl_pushcount(L, info.consecutive_failures);
    lua_setfield(L, -2, "consecutive_failures");
    fgl_push_u64(L, info.generation);
    lua_setfield(L, -2, "generation");
    fgl_pushcount(L, info.half_open_in_flight);
    lua_setfield(L, -2, "half_open_in_flight");
    fgl_push_metric(L, &info.metric);
    lua_setfield(L, -2, "metrics");
    return 1;
}

/* stats(breaker) -> name, state, success, failure, ignored, rejected,
 *   transitions (an array: [old * FG_STATE_COUNT + new + 1] = count)
 * For the Prometheus exposition; uses the breaker's last clock reading. */
static int fgl_stats(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    double now = 0.0;
    fg_info info;
    lua_settop(L, 1);
    fgl_enter(L, b, 2, &now);
    fg_breaker_info(b->shared.breaker, &info);
    fgl_leave(L, b);
    lua_pushstring(L, info.name);
    lua_pushinteger(L, (lua_Integer)info.state);
    fgl_pushcount(L, info.counters.success);
    fgl_pushcount(L, info.counters.failure);
    fgl_pushcount(L, info.counters.ignored);
    fgl_pushcount(L, info.counters.rejected);
    lua_createtable(L, FG_STATE_COUNT * FG_STATE_COUNT, 0);
    for (int from = 0; from < FG_STATE_COUNT; from++) {
        for (int to = 0; to < FG_STATE_COUNT; to++) {
            fgl_pushcount(L, info.counters.transitions[from][to]);
            lua_rawseti(L, -2, from * FG_STATE_COUNT + to + 1);
        }
    }
    return 7;
}

/* drain(breaker) -> signals, dropped, error
 * signals: an array of { old_state, new_state, timestamp, reason, metrics }
 * taken from the queue (which is emptied); dropped: transitions lost to a
 * full queue; error: the first parked callback error, or nil. */
static int fgl_drain(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    fgl_shared *s = &b->shared;
    uint32_t n = s->count;
    lua_createtable(L, (int)n, 0);
    for (uint32_t i = 0; i < n; i++) {
        const fgl_event *e = &s->events[i];
        lua_createtable(L, 0, 6);
        lua_pushstring(L, fg_state_name((fg_state)e->old_state));
        lua_setfield(L, -2, "old_state");
        lua_pushstring(L, fg_state_name((fg_state)e->new_state));
        lua_setfield(L, -2, "new_state");
        lua_pushnumber(L, e->timestamp);
        lua_setfield(L, -2, "timestamp");
        lua_pushstring(L, e->reason != NULL ? e->reason : "");
        lua_setfield(L, -2, "reason");
        fgl_push_metric(L, &e->metric);
        lua_setfield(L, -2, "metrics");
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_pushinteger(L, (lua_Integer)s->dropped);
    fgl_getuservalue(L, 1);
    lua_rawgeti(L, -1, FGL_ENV_ERROR);
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
    lua_pushboolean(L, 0);
    lua_rawseti(L, -3, FGL_ENV_ERROR);
    lua_remove(L, -2);
    /* Only now, after everything that could raise: */
    s->count = 0;
    s->dropped = 0;
    s->errors = 0;
    return 3;
}

/* ---- the module -------------------------------------------------------------- */

static const luaL_Reg fgl_breaker_funcs[] = {
    {"new_breaker", fgl_new_breaker}, {"pointer", fgl_pointer}, {"acquire", fgl_acquire},
    {"release", fgl_release},         {"release_ok", fgl_release_ok},
    {"state", fgl_state},             {"command", fgl_command},
    {"info", fgl_info},               {"stats", fgl_stats},     {"drain", fgl_drain},
    {NULL, NULL}};

static const luaL_Reg fgl_funcs[] = {
    {"compile", fgl_compile},
    {"load", fgl_load},
    {"from_expressions", fgl_from_expressions},
    {"policy_names", fgl_policy_names},
    {"policy_find", fgl_policy_find},
    {"policy_disassemble", fgl_policy_disassemble},
    {"close", fgl_close},
    {NULL, NULL}};

static void fgl_new_metatable(lua_State *L, const char *name, lua_CFunction gc) {
    luaL_newmetatable(L, name);
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__close");
#endif
    lua_pushliteral(L, "fluxgate internal object");
    lua_setfield(L, -2, "__metatable");
}

int luaopen_fluxgate_core(lua_State *L);

/* The module table: the functions above, version, STATES (names indexed by
 * fg_state) and SHARED_CDEF (fgl_shared's declaration for ffi.cdef). */
int luaopen_fluxgate_core(lua_State *L) {
    fgl_new_metatable(L, FGL_POLICY_MT, fgl_policy_gc);
    fgl_new_metatable(L, FGL_REPORT_MT, fgl_report_gc);
    lua_pop(L, 2);

    lua_newtable(L);
    luaL_setfuncs(L, fgl_funcs, 0);
    fgl_new_metatable(L, FGL_BREAKER_MT, fgl_breaker_gc);
    luaL_setfuncs(L, fgl_breaker_funcs, 1); /* upvalue: the breaker metatable */

    lua_pushstring(L, fg_version());
    lua_setfield(L, -2, "version");
    lua_createtable(L, FG_STATE_COUNT, 1);
    for (int s = 0; s < FG_STATE_COUNT; s++) {
        lua_pushstring(L, fg_state_name((fg_state)s));
        lua_rawseti(L, -2, s);
    }
    lua_setfield(L, -2, "STATES");
    lua_pushstring(L, fgl_shared_cdef);
    lua_setfield(L, -2, "SHARED_CDEF");
    lua_pushinteger(L, FGL_QUEUE_CAP);
    lua_setfield(L, -2, "QUEUE_CAP");
    return 1;
}
