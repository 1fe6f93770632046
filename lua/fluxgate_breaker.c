/*
 * fluxgate_breaker.c -- breakers for Lua: making them (options, Custom() resolution, the
 * environment table that holds their Lua callbacks), the classic-API call
 * protocol, and the engine callbacks that call Lua safely.
 *
 * No Lua error ever longjmps through the engine: the Lua random source and
 * Custom() predicates run under lua_pcall with stack space reserved
 * beforehand, and their errors are parked until the engine call returned.
 * Listeners are never called from the engine at all: one C listener copies
 * each transition into the breaker's fixed queue (fgl_shared) and the Lua
 * side drains it after every engine call.
 */
#include <string.h>

#include "fluxgate_lua.h"

/* A failing Lua random source draws this: the conservative answer, which
 * rejects every permit but Random(1) and waits the longest jitter. */
static const double fgl_random_fallback = 0.99999999999999989;

/* Parked in place of an error value when a draw is out of range: pushing a
 * light userdata cannot fail, whereas making a message string could raise a
 * memory error through the engine. fgl_leave turns it into the message. */
static const char fgl_bad_draw = 0;

/* ---- breakers: engine callbacks ------------------------------------------- */

/* Parks the error value on top of the stack (the first one of this engine
 * call stays on the stack; later ones are only counted). */
static void fgl_park_error(fgl_breaker *b, lua_State *L, const char *what, int is_custom) {
    if (b->parked_index == 0) {
        b->parked_index = lua_gettop(L);
        b->parked_what = what;
        b->parked_custom = is_custom;
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
        fgl_park_error(b, L, "random function", 0);
        return fgl_random_fallback;
    }
    double r = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(r >= 0.0 && r < 1.0)) {
        lua_pushlightuserdata(L, (void *)&fgl_bad_draw);
        lua_replace(L, -2);
        fgl_park_error(b, L, "random function", 0);
        return fgl_random_fallback;
    }
    lua_pop(L, 1);
    return r;
}

/* build(outcome, value, status) -> the outcome table Custom() predicates
 * receive, as fluxgate.lua's classic path builds it; run under lua_pcall, so
 * that a memory error cannot unwind through the engine. */
static int fgl_build_outcome(lua_State *L) {
    const fg_outcome *o = lua_touserdata(L, 1);
    lua_createtable(L, 0, 5);
    lua_pushboolean(L, !o->is_error);
    lua_setfield(L, -2, "ok");
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, o->is_error ? "error" : "result");
    if (o->type != NULL) {
        lua_pushlstring(L, o->type, o->type_len);
        lua_setfield(L, -2, "type");
    }
    if (o->message != NULL) {
        lua_pushlstring(L, o->message, o->message_len);
        lua_setfield(L, -2, "message");
    }
    /* the status value as fluxgate.outcome's as_status keeps it: a number in range */
    if (lua_type(L, 3) == LUA_TNUMBER) {
        lua_Number d = lua_tonumber(L, 3);
        if (d > -9.0e18 && d < 9.0e18) {
            lua_pushvalue(L, 3);
            lua_setfield(L, -2, "status");
        }
    }
    return 1;
}

/* Makes the outcome table of a fast-path call (see fgl_breaker.lazy_outcome)
 * the first time a predicate needs it; it stays on the stack until
 * fgl_leave. Returns 0 when it could not be made (the error is parked). */
static int fgl_lazy_outcome(fgl_breaker *b, lua_State *L, const fgl_custom_slot *slot) {
    lua_pushcfunction(L, fgl_build_outcome);
    lua_pushlightuserdata(L, (void *)b->lazy_outcome);
    if (b->lazy_value != 0) lua_pushvalue(L, b->lazy_value);
    else lua_pushnil(L);
    if (b->lazy_status != 0) lua_pushvalue(L, b->lazy_status);
    else lua_pushnil(L);
    if (lua_pcall(L, 3, 1, 0) != 0) {
        fgl_park_error(b, L, slot->name, 1);
        return 0;
    }
    b->outcome_index = lua_gettop(L);
    return 1;
}

static int fgl_custom_call(void *ud, const fg_outcome *outcome) {
    fgl_custom_slot *slot = ud;
    fgl_breaker *b = slot->owner;
    lua_State *L = b->L;
    (void)outcome; /* the predicates read the richer outcome table */
    if (L == NULL) return -1;
    if (b->outcome_index == 0 && (b->lazy_outcome == NULL || !fgl_lazy_outcome(b, L, slot))) return -1;
    lua_rawgeti(L, b->env_index, slot->env_slot);
    lua_pushvalue(L, b->outcome_index);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        fgl_park_error(b, L, slot->name, 1);
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
fgl_breaker *fgl_check_breaker(lua_State *L, int idx) {
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

/* The same checks for a breaker the caller already holds (the fast paths keep
 * it in an upvalue): raises when it is closed or busy in its own callback. */
void fgl_check_usable(lua_State *L, const fgl_breaker *b) {
    if (b->shared.breaker == NULL) luaL_error(L, "fluxgate: the breaker is closed");
    if (b->L != NULL) luaL_error(L, "fluxgate: a breaker cannot be used from its own random function or Custom() predicate");
}

/* Prepares an engine call: everything that may raise happens here, before the
 * engine is touched. Returns 1 when `now` was given. */
int fgl_enter(lua_State *L, fgl_breaker *b, int now_idx, double *now) {
    int has_now = !lua_isnoneornil(L, now_idx);
    if (has_now) {
        *now = luaL_checknumber(L, now_idx);
        b->shared.now = *now;
    }
    fgl_enter_at(L, b, 1);
    return has_now;
}

void fgl_enter_at(lua_State *L, fgl_breaker *b, int self_idx) {
    if (b->has_callbacks) {
        luaL_checkstack(L, 12, "fluxgate callbacks");
        fgl_getuservalue(L, self_idx);
        b->env_index = lua_gettop(L);
        b->parked_index = 0;
        b->L = L;
    }
}

/* Ends an engine call: moves a parked callback error into the environment for
 * the Lua side to report, and restores the stack. */
void fgl_leave(lua_State *L, fgl_breaker *b) {
    if (!b->has_callbacks) return;
    b->L = NULL;
    b->outcome_index = 0;
    if (b->parked_index != 0) {
        lua_rawgeti(L, b->env_index, FGL_ENV_ERROR);
        int had_one = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (!had_one) {
            lua_pushfstring(L, b->parked_custom ? "Custom(\"%s\") predicate: " : "%s: ", b->parked_what);
            lua_pushvalue(L, b->parked_index);
            if (lua_touserdata(L, -1) == &fgl_bad_draw) {
                lua_pop(L, 1);
                lua_pushliteral(L, "returned a value outside [0, 1)");
            } else if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
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

int fgl_pending(const fgl_breaker *b) {
    return (int)(b->shared.count + b->shared.errors + b->shared.dropped);
}

/* ---- breakers: construction and lifetime ------------------------------------ */

int fgl_breaker_gc(lua_State *L) {
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
int fgl_status(lua_State *L, int idx, int64_t *out) {
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

const luaL_Reg fgl_breaker_funcs[] = {
    {"new_breaker", fgl_new_breaker}, {"close", fgl_close},     {"pointer", fgl_pointer},
    {"acquire", fgl_acquire},         {"release", fgl_release}, {"release_ok", fgl_release_ok},
    {NULL, NULL}};
