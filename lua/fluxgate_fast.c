/*
 * fluxgate_fast.c -- the C halves of cb:call, and cb:acquire and cb:release,
 * on the classic C API (Lua 5.4): per-breaker C closures that hold the
 * breaker userdata, its Lua clock and its Lua table as upvalues, so that a
 * call checks no arguments it does not have to and looks nothing up.
 *
 * cb:call itself is a Lua closure per breaker (fluxgate.lua, bind_fast):
 *
 *     local st, g, t0, slot, seq, pending = enter()
 *     ...
 *     return finish(st, g, t0, slot, seq, pcall(fn, ...))
 *
 * so fn runs under Lua's own pcall and may yield (coroutines, OpenResty
 * cosockets) with no C frame in the way. `enter` acquires; `finish` records
 * a plain result or an error value it can read without running Lua code, and
 * returns fn's results or re-raises its error. Everything off that path -- a
 * result table with a metatable, transitions for the listeners -- goes on to
 * the Lua code of fluxgate.lua through lua_callk, which may yield as well (a
 * listener doing I/O). The ticket travels as plain values on the Lua stack
 * (state, generation, started_at, slot, slot_seq): nothing is allocated, and
 * a call that never completes (a coroutine never resumed) holds nothing but
 * its half-open lease. acquire's token is one userdata holding the ticket, so
 * a token that is never released is only garbage.
 */
#include <string.h>

#include "fluxgate_lua.h"

/* Only where lua_callk exists: under Lua 5.1 (LuaJIT) the Lua code these
 * closures call would run inside a C frame, where a listener could not
 * yield. LuaJIT takes the FFI path anyway, and its classic path stays in Lua. */
#if LUA_VERSION_NUM >= 504

/* The upvalues every closure of a breaker shares. The Lua functions are
 * fluxgate.lua's; those that take a breaker take its table first. */
enum {
    FGL_UP_BREAKER = 1,   /* the breaker userdata */
    FGL_UP_CLOCK,         /* the breaker's Lua clock, or nil for the engine's own */
    FGL_UP_SELF,          /* the breaker's Lua table */
    FGL_UP_SETTLE,        /* settle(self, st, g, t0, slot, seq, ok, ...): any outcome */
    FGL_UP_DRAIN,         /* drain_then(...): hands transitions to the listeners, returns its arguments */
    FGL_UP_REJECT,        /* reject(self, state, retry_after|nil, pending) -> nil, rejection */
    FGL_UP_ACQUIRE,       /* acquire(self) of another breaker */
    FGL_UP_RELEASE,       /* release(self, token, ok, value, duration) of another breaker */
    FGL_UP_FIELDS,        /* fields(ok, value) -> is_error, status, type, message (does not yield) */
    FGL_UP_DRAIN_RAISE,   /* drain_raise(e): drains the queue, then error(e, 0) */
    FGL_UP_SETTLE_FALLBACK, /* settle_fallback(self, fallback, st, g, t0, slot, seq, ok, ...) */
    FGL_UP_DRAIN_FALLBACK, /* drain_fallback(fallback, e): drains the queue, then fallback(e) */
    FGL_UP_TOKEN_MT,      /* the token metatable */
    FGL_UP_COUNT = FGL_UP_TOKEN_MT
};

/* The token acquire returns: one userdata (a single allocation), whose user
 * value is the breaker's table (the token keeps its breaker alive, and
 * cannot be mistaken for a token of a breaker made later at the same
 * address). */
typedef struct fgl_token {
    fg_ticket ticket;
    int released;
} fgl_token;

/* ---- pieces ---------------------------------------------------------------- */

/* The results of a Lua function called by fgl_call_lua, which sit from index
 * `base` (lua_callk's ctx) to the top. */
static int fgl_lua_results(lua_State *L, int status, lua_KContext base) {
    (void)status;
    return lua_gettop(L) - (int)base + 1;
}

/* Calls the function at index `from` with everything above it and returns
 * all its results; yieldable. */
static int fgl_call_at(lua_State *L, int from) {
    lua_callk(L, lua_gettop(L) - from, LUA_MULTRET, (lua_KContext)from, fgl_lua_results);
    return fgl_lua_results(L, LUA_OK, (lua_KContext)from);
}

/* Calls upvalue `up` with everything on the stack from index `from` and
 * returns all its results; yieldable. */
static int fgl_call_lua(lua_State *L, int up, int from) {
    lua_pushvalue(L, lua_upvalueindex(up));
    lua_insert(L, from);
    return fgl_call_at(L, from);
}

/* Reads the Lua clock when the breaker has one, before the engine is touched
 * (a failing clock raises, as fluxgate.lua's read_clock does). Returns 1, with
 * the engine's `now` set, when it did. */
static int fgl_fast_clock(lua_State *L, fgl_breaker *b) {
    if (!b->fast_lua_clock) return 0;
    lua_pushvalue(L, lua_upvalueindex(FGL_UP_CLOCK));
    lua_call(L, 0, 1);
    if (lua_type(L, -1) != LUA_TNUMBER) {
        lua_pushfstring(L, "fluxgate: the clock returned a %s value, not a number", luaL_typename(L, -1));
        lua_error(L);
    }
    b->shared.now = lua_tonumber(L, -1);
    lua_pop(L, 1);
    fgl_check_usable(L, b); /* the clock may have closed it */
    return 1;
}

/* Acquires; *t is the ticket. */
static int fgl_fast_admit(lua_State *L, fgl_breaker *b, fg_ticket *t) {
    fgl_check_usable(L, b);
    int has_now = fgl_fast_clock(L, b);
    fgl_enter_at(L, b, lua_upvalueindex(FGL_UP_BREAKER));
    int admitted = has_now ? fg_breaker_acquire_at(b->shared.breaker, b->shared.now, t)
                           : fg_breaker_acquire(b->shared.breaker, t);
    fgl_leave(L, b);
    return admitted;
}

/* A rejection: reject(self, state, retry_after|nil, pending)'s results. */
static int fgl_fast_reject(lua_State *L, const fgl_breaker *b, const fg_ticket *t) {
    lua_settop(L, 1);
    lua_pushinteger(L, (lua_Integer)t->state);
    if (t->retry_after >= 0) lua_pushnumber(L, t->retry_after);
    else lua_pushnil(L);
    lua_pushboolean(L, fgl_pending(b) != 0);
    return fgl_call_lua(L, FGL_UP_REJECT, 1);
}

/* cb:call's ticket on the Lua stack is three values: a key packing state,
 * slot and slot_seq into one integer (3 + 17 + 32 bits: a slot is -1 or below
 * the 65,536 half-open calls a policy may allow), the generation, and
 * started_at. Fewer values are fewer pushes, reads and moves per call. */
enum { FGL_TICKET_VALUES = 3 };

static void fgl_push_ticket(lua_State *L, const fg_ticket *t) {
    uint64_t key = (uint64_t)t->state << 49 | (uint64_t)(uint32_t)(t->slot + 1) << 32 | t->slot_seq;
    lua_pushinteger(L, (lua_Integer)key);
    lua_pushinteger(L, (lua_Integer)t->generation);
    lua_pushnumber(L, t->started_at);
}

/* Reads a ticket fgl_push_ticket pushed, from idx..idx+2. The values never
 * left the binding's own code, so they are not checked again. */
static void fgl_read_ticket(lua_State *L, int idx, fg_ticket *t) {
    uint64_t key = (uint64_t)lua_tointeger(L, idx);
    t->admitted = 1;
    t->state = (fg_state)(key >> 49);
    t->slot = (int32_t)((key >> 32) & 0x1ffff) - 1;
    t->slot_seq = (uint32_t)key;
    t->generation = (uint64_t)lua_tointeger(L, idx + 1);
    t->started_at = lua_tonumber(L, idx + 2);
    t->retry_after = -1.0;
}

/* Classifies and records outcome *o for ticket *t. value and status are the
 * stack indexes of the outcome's Lua value (the error, or the first result;
 * 0: none) and of its status value (0: none), from which the outcome table
 * of Custom() predicates is built if one of them runs (fgl_custom_call). */
static void fgl_fast_classify_record(lua_State *L, fgl_breaker *b, fg_ticket *t, const fg_outcome *o,
                                     int value, int status, double duration) {
    int has_now = fgl_fast_clock(L, b);
    fgl_enter_at(L, b, lua_upvalueindex(FGL_UP_BREAKER));
    b->outcome_index = 0;
    b->lazy_outcome = o;
    b->lazy_value = value;
    b->lazy_status = status;
    int outcome_class = fg_breaker_classify(b->shared.breaker, o);
    b->lazy_outcome = NULL;
    if (has_now) fg_breaker_record_at(b->shared.breaker, t, outcome_class, duration, b->shared.now);
    else fg_breaker_record(b->shared.breaker, t, outcome_class, duration);
    fgl_leave(L, b);
}

/* Records outcome *o for the ticket at idx..idx+2 (see fgl_fast_classify_record). */
static void fgl_fast_record(lua_State *L, fgl_breaker *b, int idx, const fg_outcome *o, int value, int status) {
    fg_ticket t;
    fgl_read_ticket(L, idx, &t);
    fgl_fast_classify_record(L, b, &t, o, value, status, -1.0);
}

/* The status a table result gives without running Lua code: its raw
 * `status` field, which it leaves on top of the stack, and into *o when it is
 * a number in range. Returns 0, pushing nothing, when the table has a
 * metatable (what v.status means is then Lua's business). */
static int fgl_table_status(lua_State *L, int idx, fg_outcome *o) {
    if (lua_getmetatable(L, idx)) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pushliteral(L, "status");
    lua_rawget(L, idx);
    o->has_status = fgl_status(L, -1, &o->status);
    return 1;
}

/* Records a result whose first value is at r (of Lua type first_type) for the
 * ticket at tk..tk+2, when it is a plain one: not a table with a metatable.
 * Returns 0, recording nothing, otherwise or when the breaker is closed or
 * busy. */
static int fgl_fast_record_result(lua_State *L, fgl_breaker *b, int tk, int r, int first_type) {
    if (b->shared.breaker == NULL || b->L != NULL) return 0;
    fg_outcome o;
    memset(&o, 0, sizeof o);
    if (first_type != LUA_TTABLE) {
        /* no results: index r is above the top, where the engine call puts
         * values of its own */
        fgl_fast_record(L, b, tk, &o, first_type == LUA_TNONE ? 0 : r, 0);
        return 1;
    }
    if (!fgl_table_status(L, r, &o)) return 0;
    int status = lua_gettop(L);
    fgl_fast_record(L, b, tk, &o, r, status);
    lua_settop(L, status - 1);
    return 1;
}

/* ---- cb:call ----------------------------------------------------------------- */

/* Where the message of a string error starts: after Lua's "chunk:line: "
 * position, exactly as fluxgate/outcome.lua's strip_position reads it, i.e.
 * s:match('^%[string ".-"%]:%d+: (.*)$') or s:match("^[^:\n]+:%d+: (.*)$");
 * 0 when there is no position. */
static size_t fgl_line_then_space(const char *s, size_t n, size_t k) {
    size_t d = k;
    while (k < n && s[k] >= '0' && s[k] <= '9') k++;
    if (k == d || k + 2 > n || s[k] != ':' || s[k + 1] != ' ') return 0;
    return k + 2;
}

static size_t fgl_position_length(const char *s, size_t n) {
    static const char open[] = "[string \"";
    size_t open_len = sizeof open - 1;
    if (n >= open_len && memcmp(s, open, open_len) == 0) {
        for (size_t j = open_len; j + 3 <= n; j++) {
            if (s[j] == '"' && s[j + 1] == ']' && s[j + 2] == ':') {
                size_t rest = fgl_line_then_space(s, n, j + 3);
                if (rest != 0) return rest;
            }
        }
    }
    size_t i = 0;
    while (i < n && s[i] != ':' && s[i] != '\n') i++;
    if (i == 0 || i == n || s[i] != ':') return 0;
    return fgl_line_then_space(s, n, i + 1);
}

/* An error value's type, message and status into *o: a string here, any
 * other value by fields() in Lua, whose results stay on the stack (the
 * caller restores it after recording). Returns the stack index of the
 * status value, or 0 when there is none. */
static int fgl_error_fields(lua_State *L, int idx, fg_outcome *o) {
    o->is_error = 1;
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t n;
        const char *e = lua_tolstring(L, idx, &n);
        size_t skip = fgl_position_length(e, n);
        o->type = e + skip;
        o->type_len = n - skip;
        o->message = e;
        o->message_len = n;
        return 0;
    }
    int top = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(FGL_UP_FIELDS));
    lua_pushboolean(L, 0);
    lua_pushvalue(L, idx);
    lua_call(L, 2, 4); /* is_error, status, type, message */
    o->has_status = fgl_status(L, top + 2, &o->status);
    if (lua_type(L, top + 3) == LUA_TSTRING) o->type = lua_tolstring(L, top + 3, &o->type_len);
    if (lua_type(L, top + 4) == LUA_TSTRING) o->message = lua_tolstring(L, top + 4, &o->message_len);
    return top + 2;
}

/* Records an error outcome for the ticket at tk..tk+2: the error value at idx. */
static void fgl_fast_record_error(lua_State *L, fgl_breaker *b, int tk, int idx) {
    int top = lua_gettop(L);
    fg_outcome o;
    memset(&o, 0, sizeof o);
    int status = fgl_error_fields(L, idx, &o);
    fgl_fast_record(L, b, tk, &o, idx, status);
    lua_settop(L, top);
}

/* enter(self, fn [, fallback]) -> key, g, t0   (admitted: the ticket)
 *                            | nil, rejection
 *                            | nothing   (not this breaker's call with
 *                                         functions: the generic method takes it)
 * The first half of cb:call and cb:call_with_fallback. Transitions it caused
 * reach the listeners before it returns. A failing Lua clock or a closed
 * breaker raises. */
static int fgl_fast_enter(lua_State *L) {
    fgl_breaker *b = lua_touserdata(L, lua_upvalueindex(FGL_UP_BREAKER));
    int top = lua_gettop(L);
    if (top < 2 || !lua_rawequal(L, 1, lua_upvalueindex(FGL_UP_SELF))) return 0;
    for (int i = 2; i <= top; i++) {
        if (lua_type(L, i) != LUA_TFUNCTION) return 0;
    }
    fg_ticket t;
    if (!fgl_fast_admit(L, b, &t)) return fgl_fast_reject(L, b, &t);
    fgl_push_ticket(L, &t); /* above the arguments: what is returned is the top */
    if (fgl_pending(b) == 0) return FGL_TICKET_VALUES;
    return fgl_call_lua(L, FGL_UP_DRAIN, top + 1);
}

/* Turns the three-value ticket at 1..3 into the classic API's five values
 * (st, g, t0, slot, seq) at 1..5, for the generic rules of fluxgate.lua. */
static void fgl_expand_ticket(lua_State *L) {
    fg_ticket t;
    fgl_read_ticket(L, 1, &t);
    lua_pushinteger(L, (lua_Integer)t.state);
    lua_replace(L, 1);
    lua_pushinteger(L, (lua_Integer)t.slot);
    lua_pushinteger(L, (lua_Integer)t.slot_seq);
    lua_rotate(L, 4, 2);
}

/* The index of the error value of a call whose pcall results start at `ok`
 * (a raised error, or the e of `nil, e`), or 0 for a result, whose first
 * value's Lua type goes to *first_type. */
static int fgl_error_index(lua_State *L, int ok, int *first_type) {
    if (!lua_toboolean(L, ok)) return ok + 1;
    *first_type = lua_type(L, ok + 1);
    if (*first_type <= LUA_TNIL && !lua_isnoneornil(L, ok + 2)) return ok + 2; /* NONE or NIL */
    return 0;
}

/* The first step of finish and finish_fallback, for pcall's results from
 * index `ok` on (the ticket at 1..3). A plain result is recorded: *done is
 * set and the return value is the C function's (fn's results, after the
 * listeners when transitions wait). An error is recorded when the breaker is
 * usable, and *err is its value's index. Otherwise, 0 in *err too: the
 * generic settle rules take the call. */
static int fgl_fast_outcome(lua_State *L, fgl_breaker *b, int ok, int *done, int *err) {
    int first_type = LUA_TNONE;
    *done = 0;
    *err = fgl_error_index(L, ok, &first_type);
    if (*err == 0) {
        if (!fgl_fast_record_result(L, b, 1, ok + 1, first_type)) return 0;
        *done = 1;
        if (fgl_pending(b) == 0) return lua_gettop(L) - ok;
        return fgl_call_lua(L, FGL_UP_DRAIN, ok + 1);
    }
    if (b->shared.breaker == NULL || b->L != NULL) {
        *err = 0;
        return 0;
    }
    fgl_fast_record_error(L, b, 1, *err);
    return 0;
}

/* finish(key, g, t0, ok, ...) -> fn's results, or raises fn's error:
 * cb:call's second half, `return finish(key, g, t0, pcall(fn, ...))`.
 * A plain result, a raised error and a `nil, e` return are recorded here
 * (an error that is not a string has its fields read by fields() in Lua);
 * anything else goes to settle(). */
static int fgl_fast_finish(lua_State *L) {
    enum { OK = FGL_TICKET_VALUES + 1, FIRST };
    fgl_breaker *b = lua_touserdata(L, lua_upvalueindex(FGL_UP_BREAKER));
    int done, err;
    int n = fgl_fast_outcome(L, b, OK, &done, &err);
    if (done) return n;
    if (err == FIRST) { /* fn raised: raise the error unchanged */
        lua_settop(L, FIRST);
        if (fgl_pending(b) != 0) return fgl_call_lua(L, FGL_UP_DRAIN_RAISE, FIRST);
        return lua_error(L);
    }
    if (err != 0) { /* nil, e: returned unchanged */
        if (fgl_pending(b) == 0) return lua_gettop(L) - OK;
        return fgl_call_lua(L, FGL_UP_DRAIN, FIRST);
    }
    fgl_expand_ticket(L);
    lua_pushvalue(L, lua_upvalueindex(FGL_UP_SELF));
    lua_insert(L, 1);
    return fgl_call_lua(L, FGL_UP_SETTLE, 1);
}

/* finish_fallback(key, g, t0, fallback, ok, ...) -> fn's results, or
 * fallback(e)'s for an error e (raised or `nil, e`; tracked or not): the
 * second half of cb:call_with_fallback, as finish is cb:call's. */
static int fgl_fast_finish_fallback(lua_State *L) {
    enum { FALLBACK = FGL_TICKET_VALUES + 1, OK, FIRST };
    fgl_breaker *b = lua_touserdata(L, lua_upvalueindex(FGL_UP_BREAKER));
    int done, err;
    int n = fgl_fast_outcome(L, b, OK, &done, &err);
    if (done) return n;
    if (err != 0) {
        lua_settop(L, err);
        int base = err + 1; /* fallback(e), after the listeners when some wait */
        if (fgl_pending(b) != 0) lua_pushvalue(L, lua_upvalueindex(FGL_UP_DRAIN_FALLBACK));
        lua_pushvalue(L, FALLBACK);
        lua_pushvalue(L, err);
        return fgl_call_at(L, base);
    }
    fgl_expand_ticket(L); /* st, g, t0, slot, seq, fallback, ok, ... */
    lua_pushvalue(L, 6);
    lua_remove(L, 6);
    lua_insert(L, 1);
    lua_pushvalue(L, lua_upvalueindex(FGL_UP_SELF));
    lua_insert(L, 1);
    return fgl_call_lua(L, FGL_UP_SETTLE_FALLBACK, 1);
}

/* ---- cb:acquire, cb:release ------------------------------------------------ */

/* acquire(self) -> token | nil, rejection */
static int fgl_fast_acquire(lua_State *L) {
    fgl_breaker *b = lua_touserdata(L, lua_upvalueindex(FGL_UP_BREAKER));
    if (!lua_rawequal(L, 1, lua_upvalueindex(FGL_UP_SELF))) return fgl_call_lua(L, FGL_UP_ACQUIRE, 1);
    lua_settop(L, 1);
    fg_ticket t;
    if (!fgl_fast_admit(L, b, &t)) return fgl_fast_reject(L, b, &t);
    fgl_token *k = lua_newuserdatauv(L, sizeof *k, 1);
    k->ticket = t;
    k->released = 0;
    lua_pushvalue(L, lua_upvalueindex(FGL_UP_TOKEN_MT));
    lua_setmetatable(L, 2);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, 2, 1);
    if (fgl_pending(b) != 0) return fgl_call_lua(L, FGL_UP_DRAIN, 2);
    return 1;
}

/* The token at idx when it is one of this breaker's, else NULL. */
static fgl_token *fgl_to_token(lua_State *L, int idx) {
    fgl_token *k = lua_touserdata(L, idx);
    if (k == NULL || !lua_getmetatable(L, idx)) return NULL;
    int ours = lua_rawequal(L, -1, lua_upvalueindex(FGL_UP_TOKEN_MT));
    lua_pop(L, 1);
    if (!ours) return NULL;
    lua_getiuservalue(L, idx, 1);
    ours = lua_rawequal(L, -1, lua_upvalueindex(FGL_UP_SELF));
    lua_pop(L, 1);
    return ours ? k : NULL;
}

/* release(self, token, ok, value [, duration]); a second release is a no-op.
 * A plain result is read here; an error, or a table with a metatable, is read
 * by fields() in Lua. The misuse errors are raised here, so that they blame
 * the caller's line. */
static int fgl_fast_release(lua_State *L) {
    fgl_breaker *b = lua_touserdata(L, lua_upvalueindex(FGL_UP_BREAKER));
    lua_settop(L, 5);
    if (!lua_rawequal(L, 1, lua_upvalueindex(FGL_UP_SELF))) return fgl_call_lua(L, FGL_UP_RELEASE, 1);
    fgl_token *k = fgl_to_token(L, 2);
    if (k == NULL) return luaL_error(L, "bad argument #1 to 'release' (a token from this breaker's acquire expected)");
    double duration = -1.0;
    if (!lua_isnil(L, 5)) {
        if (lua_type(L, 5) != LUA_TNUMBER) {
            return luaL_error(L, "bad argument #4 to 'release' (number expected, got %s)", luaL_typename(L, 5));
        }
        duration = lua_tonumber(L, 5);
    }
    if (k->released) return 0;
    k->released = 1;
    fg_outcome o;
    memset(&o, 0, sizeof o);
    int status = 0; /* the stack index of the status value */
    if (!lua_toboolean(L, 3)) {
        status = fgl_error_fields(L, 4, &o);
    } else if (lua_type(L, 4) == LUA_TNUMBER) {
        o.has_status = fgl_status(L, 4, &o.status);
        status = 4;
    } else if (lua_type(L, 4) != LUA_TTABLE) {
        /* a result without a status */
    } else if (fgl_table_status(L, 4, &o)) {
        status = lua_gettop(L);
    } else {
        lua_pushvalue(L, lua_upvalueindex(FGL_UP_FIELDS));
        lua_pushvalue(L, 3);
        lua_pushvalue(L, 4);
        lua_call(L, 2, 4); /* 6: is_error, 7: status, 8: type, 9: message */
        o.is_error = lua_toboolean(L, 6);
        o.has_status = fgl_status(L, 7, &o.status);
        status = 7;
        if (lua_type(L, 8) == LUA_TSTRING) o.type = lua_tolstring(L, 8, &o.type_len);
        if (lua_type(L, 9) == LUA_TSTRING) o.message = lua_tolstring(L, 9, &o.message_len);
    }
    fgl_check_usable(L, b);
    fgl_fast_classify_record(L, b, &k->ticket, &o, 4, status, duration);
    if (fgl_pending(b) != 0) {
        lua_settop(L, 5);
        return fgl_call_lua(L, FGL_UP_DRAIN, 6);
    }
    return 0;
}

/* fast(breaker, clock|nil, self, settle, drain_then, reject, acquire, release,
 *      fields, drain_raise, settle_fallback, drain_fallback)
 *   -> enter, finish, finish_fallback, acquire, release
 * One breaker's closures (the arguments are their upvalues, see FGL_UP_). */
static int fgl_fast(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    luaL_checktype(L, FGL_UP_SELF, LUA_TTABLE);
    for (int i = FGL_UP_SETTLE; i < FGL_UP_TOKEN_MT; i++) luaL_checktype(L, i, LUA_TFUNCTION);
    lua_settop(L, FGL_UP_TOKEN_MT - 1);
    luaL_getmetatable(L, FGL_TOKEN_MT);
    b->fast_lua_clock = !lua_isnil(L, FGL_UP_CLOCK);
    static const lua_CFunction fns[] = {fgl_fast_enter, fgl_fast_finish, fgl_fast_finish_fallback,
                                        fgl_fast_acquire, fgl_fast_release};
    enum { FN_COUNT = sizeof fns / sizeof fns[0] };
    for (int f = 0; f < FN_COUNT; f++) {
        for (int i = 1; i <= FGL_UP_COUNT; i++) lua_pushvalue(L, i);
        lua_pushcclosure(L, fns[f], FGL_UP_COUNT);
    }
    return FN_COUNT;
}

/* _error_type(s) -> the type fgl_error_fields gives a string error (for the
 * tests, which compare it with fluxgate/outcome.lua's). */
static int fgl_error_type(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    size_t skip = fgl_position_length(s, n);
    lua_pushlstring(L, s + skip, n - skip);
    return 1;
}

const luaL_Reg fgl_fast_funcs[] = {{"fast", fgl_fast}, {"_error_type", fgl_error_type}, {NULL, NULL}};

#else

const luaL_Reg fgl_fast_funcs[] = {{NULL, NULL}};

#endif
