/*
 * fluxgate_callback.c -- the engine callbacks that call Lua, for breakers and
 * families: the Lua random source, Custom() predicates (and their
 * resolution at creation), the C listener that queues transitions, and the
 * brackets around every engine call that may run them (fgl_enter,
 * fgl_leave) with the Lua clock read before it.
 *
 * No Lua error ever longjmps through the engine: the Lua random source and
 * Custom() predicates run under lua_pcall with stack space reserved
 * beforehand, and their errors are parked until the engine call returned.
 * Listeners are never called from the engine at all: one C listener queues
 * each transition (growing the queue through Lua's allocator, which raises
 * nothing) and the Lua side drains it after the engine call
 * (fluxgate/delivery.lua).
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

/* ---- engine callbacks ----------------------------------------------------------- */

/* Parks the error value on top of the stack (the first one of this engine
 * call stays on the stack; later ones are only counted). */
static void fgl_park_error(fgl_breaker *b, lua_State *L, const char *what, int is_custom) {
    fgl_call *c = b->side->call;
    if (c->parked_index == 0) {
        c->parked_index = lua_gettop(L);
        c->parked_what = what;
        c->parked_custom = is_custom;
    } else {
        lua_pop(L, 1);
    }
    b->side->errors++;
}

double fgl_random(void *ud) {
    fgl_breaker *b = ud;
    fgl_call *c = fgl_call_of(b);
    if (c == NULL) return fgl_random_fallback; /* not inside a Lua call */
    lua_State *L = c->L;
    lua_rawgeti(L, c->env_index, FGL_ENV_RANDOM);
    /* under the block's lock: see fgl_refuse_shared (a shared breaker has a side) */
    fgl_module *held = (b->head.flags & FGL_SHARED) ? b->side->module : NULL;
    if (held != NULL) held->shared_held++;
    int status = lua_pcall(L, 0, 1, 0);
    if (held != NULL) held->shared_held--;
    if (status != 0) {
        fgl_park_error(b, L, "random function", 0);
        return fgl_random_fallback;
    }
    double r = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(r >= 0.0 && r < 1.0)) {
        lua_pop(L, 1);
        lua_pushlightuserdata(L, (void *)&fgl_bad_draw);
        fgl_park_error(b, L, "random function", 0);
        return fgl_random_fallback;
    }
    lua_pop(L, 1);
    return r;
}

/* Makes the call's outcome table the first time a predicate needs it; it
 * stays on the stack until fgl_leave. Returns 0 when it could not be made
 * (the error is parked). */
static int fgl_outcome_table(fgl_breaker *b, lua_State *L, const char *name) {
    fgl_call *c = b->side->call;
    if (c->outcome_index != 0) return 1;
    if (c->outcome == NULL) return 0;
    lua_pushcfunction(L, fgl_build_outcome);
    lua_pushlightuserdata(L, (void *)c->outcome);
    if (c->value_index != 0) lua_pushvalue(L, c->value_index);
    else lua_pushnil(L);
    if (lua_pcall(L, 2, 1, 0) != 0) {
        fgl_park_error(b, L, name, 1);
        return 0;
    }
    c->outcome_index = lua_gettop(L);
    return 1;
}

static int fgl_custom_call(void *ud, const fg_outcome *outcome) {
    fgl_custom_slot *slot = ud;
    fgl_breaker *b = slot->owner;
    fgl_call *c = fgl_call_of(b);
    (void)outcome; /* the predicates read the richer outcome table */
    if (c == NULL) return -1;
    lua_State *L = c->L;
    /* the name, for a report: the env holds it beside the predicate */
    lua_rawgeti(L, c->env_index, slot->env_slot + 1);
    const char *name = lua_tostring(L, -1);
    lua_pop(L, 1); /* the env keeps the string alive */
    if (!fgl_outcome_table(b, L, name)) return -1;
    lua_rawgeti(L, c->env_index, slot->env_slot);
    lua_pushvalue(L, c->outcome_index);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        fgl_park_error(b, L, name, 1);
        return -1;
    }
    int matched = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return matched;
}

/* Resolution at creation: the env holds name, predicate pairs from
 * FGL_ENV_FIRST_CUSTOM on; the slots userdata (at slots_index) gets one
 * entry per name the engine asks for. */
int fgl_resolve(void *ud, const char *name, fg_custom *out) {
    fgl_resolver *r = ud;
    lua_State *L = r->L;
    for (int i = 0; i < r->count; i++) {
        int slot = FGL_ENV_FIRST_CUSTOM + 2 * i;
        lua_rawgeti(L, r->env_index, slot + 1);
        int same = strcmp(lua_tostring(L, -1), name) == 0;
        lua_pop(L, 1);
        if (same) {
            r->slots[i].owner = r->b;
            r->slots[i].env_slot = slot;
            out->fn = fgl_custom_call;
            out->ud = &r->slots[i];
            r->used = 1;
            return 1;
        }
    }
    return 0;
}

/* Queues a transition: no Lua, and no allocation unless transitions pile
 * up (the queue grows through Lua's allocator, which raises nothing). */
static void fgl_on_transition(void *ud, const fg_transition *t) {
    fgl_breaker *b = ud;
    fgl_side *s = b->side; /* made before the listener was added; freed after the engine */
    b->head.pending = 1;
    if (s->event_count == s->event_cap) {
        uint32_t cap = s->event_cap ? s->event_cap * 2 : 2;
        fg_allocator *a = &s->module->alloc;
        void *grown = a->fn(a->ud, s->events, (size_t)s->event_cap * sizeof *s->events,
                            (size_t)cap * sizeof *s->events);
        if (grown == NULL) {
            s->lost++;
            return;
        }
        s->events = grown;
        s->event_cap = cap;
    }
    fgl_event *e = &s->events[s->event_count++];
    e->old_state = t->old_state;
    e->new_state = t->new_state;
    e->timestamp = t->timestamp;
    e->reason = t->reason;
    e->sequence = t->sequence;
    e->metric = t->metric;
}

/* See fluxgate_lua.h. Transition numbers are the engine's (the block counts
 * every transition), so a listener added late still sees the breaker's own
 * sequence. */
int fgl_add_engine_listener(fgl_breaker *b) {
    if (b->head.flags & FGL_LISTENING) return 0;
    if (b->side == NULL) return -1; /* fgl_side_get first */
    if (fg_breaker_add_listener(b->head.engine, fgl_on_transition, b) != 0) return -1;
    b->head.flags |= FGL_LISTENING;
    return 0;
}

/* ---- entering and leaving the engine ------------------------------------------ */

int fgl_head_read_clock(lua_State *L, fgl_head *head, int self_idx) {
    if (!(head->flags & FGL_LUA_CLOCK)) return 0;
    lua_getmetatable(L, self_idx);
    lua_getfield(L, -1, "__clock");
    lua_remove(L, -2);
    lua_call(L, 0, 1);
    if (lua_type(L, -1) != LUA_TNUMBER) {
        luaL_error(L, "fluxgate: the clock returned a %s value, not a number", luaL_typename(L, -1));
    }
    head->now = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return 1;
}

void fgl_read_clock(lua_State *L, fgl_breaker *b, int self_idx) {
    /* the clock may have closed the breaker */
    if (fgl_head_read_clock(L, &b->head, self_idx) && b->head.engine == NULL)
        luaL_error(L, "fluxgate: the breaker was closed by its clock");
}

void fgl_enter(lua_State *L, fgl_breaker *b, int self_idx, fgl_call *c) {
    c->L = L;
    c->env_index = 0;
    c->outcome_index = 0;
    c->outcome = NULL;
    c->value_index = 0;
    c->parked_index = 0;
    if (!(b->head.flags & FGL_CALLBACKS)) return;
    luaL_checkstack(L, 12, "fluxgate callbacks");
    fgl_get_env(L, self_idx, b);
    c->env_index = lua_gettop(L);
    b->side->call = c; /* FGL_CALLBACKS: made with it (fgl_push_made, reload) */
}

void fgl_leave(lua_State *L, fgl_breaker *b, fgl_call *c) {
    if (c->env_index == 0) return;
    b->side->call = NULL;
    if (c->parked_index != 0) {
        b->head.pending = 1;
        lua_rawgeti(L, c->env_index, FGL_ENV_ERROR);
        int had_one = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (!had_one) {
            lua_pushfstring(L, c->parked_custom ? "Custom(\"%s\") predicate: " : "%s: ", c->parked_what);
            lua_pushvalue(L, c->parked_index);
            if (lua_touserdata(L, -1) == &fgl_bad_draw) {
                lua_pop(L, 1);
                lua_pushliteral(L, "returned a value outside [0, 1)");
            } else if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
                lua_pop(L, 1);
                lua_pushstring(L, luaL_typename(L, c->parked_index));
                lua_pushliteral(L, " error value");
                lua_concat(L, 2);
            }
            lua_concat(L, 2);
            lua_rawseti(L, c->env_index, FGL_ENV_ERROR);
        }
    }
    lua_settop(L, c->env_index - 1);
}
