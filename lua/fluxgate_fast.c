/*
 * fluxgate_fast.c -- the hot path of cb:call and cb:acquire/cb:release on the
 * classic C API, as per-breaker C closures (the breaker userdata is an
 * upvalue: no argument checks, no metatable lookups per call).
 *
 * cb:call is, in Lua (see fluxgate.lua):
 *
 *     local st, g, t0, slot, seq, pending = enter(fn)
 *     ...
 *     return finish(st, g, t0, slot, seq, pcall(fn, ...))
 *
 * finish records a plain result itself and returns fn's results unchanged
 * (a C function can return its own arguments, which saves a vararg Lua frame).
 * Everything else -- an error, `nil, e`, a result table with a metatable, a
 * transition to hand to the listeners -- is passed to a Lua function, called
 * with lua_callk on Lua 5.4 so that it may still yield (a listener doing I/O).
 * fn itself always runs under Lua's pcall, outside any C frame.
 *
 * The ticket travels as plain values (state, generation, started_at, slot,
 * slot_seq), so nothing is allocated and a lost call (a coroutine never
 * resumed) holds nothing but its half-open lease.
 */
#include <string.h>

#include "fluxgate_lua.h"

/* Only where lua_callk exists: under Lua 5.1 (LuaJIT) the generic Lua path
 * would run inside a C frame, where a listener could not yield. LuaJIT takes
 * the FFI path anyway, and its classic path stays in Lua. */
#if LUA_VERSION_NUM >= 504

/* Upvalues. Every closure has the breaker userdata first and the Lua clock
 * (or nil) second; finish and give have more. */
enum {
    FGL_UP_BREAKER = 1, /* the breaker userdata */
    FGL_UP_CLOCK,       /* the breaker's Lua clock, or nil for the engine's own */
    FGL_UP_SETTLE,      /* finish: settle(st, g, t0, slot, seq, ok, ...), the generic Lua path */
    FGL_UP_DRAIN,       /* finish: drain_then(...), drains the queue, returns its arguments */
    FGL_UP_SELF = 3     /* give: the breaker's Lua table */
};

static fgl_breaker *fgl_upvalue_breaker(lua_State *L) {
    fgl_breaker *b = lua_touserdata(L, lua_upvalueindex(FGL_UP_BREAKER));
    fgl_check_usable(L, b);
    return b;
}

/* Pushes what acquire returns: st, g, t0, slot, seq, pending when admitted,
 * false, state, retry_after|nil, pending when not. */
static int fgl_push_admission(lua_State *L, const fgl_breaker *b, const fg_ticket *t, int admitted) {
    if (admitted) {
        lua_pushinteger(L, (lua_Integer)t->state);
        fgl_push_u64(L, t->generation);
        lua_pushnumber(L, t->started_at);
        lua_pushinteger(L, (lua_Integer)t->slot);
        lua_pushinteger(L, (lua_Integer)t->slot_seq);
        lua_pushinteger(L, fgl_pending(b));
        return 6;
    }
    lua_pushboolean(L, 0);
    lua_pushinteger(L, (lua_Integer)t->state);
    if (t->retry_after >= 0) lua_pushnumber(L, t->retry_after);
    else lua_pushnil(L);
    lua_pushinteger(L, fgl_pending(b));
    return 4;
}

/* Reads the Lua clock when the breaker has one (before the engine is
 * touched: a failing clock raises, as fluxgate.lua's read_clock does).
 * Returns 1 and sets the engine's `now` when it did. */
static int fgl_fast_clock(lua_State *L, fgl_breaker *b) {
    if (lua_isnil(L, lua_upvalueindex(FGL_UP_CLOCK))) return 0;
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

static int fgl_fast_admit(lua_State *L, fgl_breaker *b) {
    fg_ticket t;
    int has_now = fgl_fast_clock(L, b);
    fgl_enter_at(L, b, lua_upvalueindex(FGL_UP_BREAKER));
    int admitted = has_now ? fg_breaker_acquire_at(b->shared.breaker, b->shared.now, &t)
                           : fg_breaker_acquire(b->shared.breaker, &t);
    fgl_leave(L, b);
    return fgl_push_admission(L, b, &t, admitted);
}

/* enter(fn) -> an admission (see fgl_push_admission), or nothing when fn is
 * not a function (the Lua side checks callable tables and misuse). */
static int fgl_fast_enter(lua_State *L) {
    if (lua_type(L, 1) != LUA_TFUNCTION) return 0;
    return fgl_fast_admit(L, fgl_upvalue_breaker(L));
}

/* take() -> an admission: acquire without a function to check. */
static int fgl_fast_take(lua_State *L) {
    return fgl_fast_admit(L, fgl_upvalue_breaker(L));
}

/* Reads a ticket that enter/take handed out, from idx..idx+4. The values
 * never left the binding's own code, so they are not checked again. */
static void fgl_read_ticket(lua_State *L, int idx, fg_ticket *t) {
    t->admitted = 1;
    t->state = (fg_state)lua_tointeger(L, idx);
    t->generation = (uint64_t)lua_tointeger(L, idx + 1);
    t->started_at = lua_tonumber(L, idx + 2);
    t->slot = (int32_t)lua_tointeger(L, idx + 3);
    t->slot_seq = (uint32_t)lua_tointeger(L, idx + 4);
    t->retry_after = -1.0;
}

/* Records a result whose status (if any) is in *o, for the ticket at idx..idx+4. */
static void fgl_fast_record(lua_State *L, fgl_breaker *b, int idx, const fg_outcome *o) {
    fg_ticket t;
    fgl_read_ticket(L, idx, &t);
    int has_now = fgl_fast_clock(L, b);
    fgl_enter_at(L, b, lua_upvalueindex(FGL_UP_BREAKER));
    b->outcome_index = 0;
    int outcome_class = fg_breaker_classify(b->shared.breaker, o);
    if (has_now) fg_breaker_record_at(b->shared.breaker, &t, outcome_class, -1.0, b->shared.now);
    else fg_breaker_record(b->shared.breaker, &t, outcome_class, -1.0);
    fgl_leave(L, b);
}

/* The results of the Lua function finish handed over, which sit from index
 * `base` (lua_callk's ctx) to the top. */
static int fgl_fast_results(lua_State *L, int status, lua_KContext base) {
    (void)status;
    return lua_gettop(L) - (int)base + 1;
}

/* Calls the function at `base` with everything above it and returns all its
 * results; yieldable (the continuation returns them after a resume). */
static int fgl_fast_tail(lua_State *L, int base) {
    int nargs = lua_gettop(L) - base;
    lua_callk(L, nargs, LUA_MULTRET, (lua_KContext)base, fgl_fast_results);
    return fgl_fast_results(L, LUA_OK, (lua_KContext)base);
}

/* Records the results of a call that returned (from index r to the top) for
 * the ticket at tk..tk+4, when they are a plain result: not `nil, e`, and a
 * first value that is not a table with a metatable (r1.status then means
 * what it means in Lua). Returns 0, recording nothing, otherwise. */
static int fgl_fast_try_record(lua_State *L, fgl_breaker *b, int tk, int r) {
    if (b->shared.breaker == NULL || b->L != NULL) return 0;
    if (lua_isnoneornil(L, r) && !lua_isnoneornil(L, r + 1)) return 0;
    fg_outcome o;
    memset(&o, 0, sizeof o);
    if (lua_type(L, r) == LUA_TTABLE) {
        if (lua_getmetatable(L, r)) {
            lua_pop(L, 1);
            return 0;
        }
        lua_pushliteral(L, "status");
        lua_rawget(L, r);
        o.has_status = fgl_status(L, -1, &o.status);
        lua_pop(L, 1);
    }
    fgl_fast_record(L, b, tk, &o);
    return 1;
}

/* finish(st, g, t0, slot, seq, ok, ...) -> fn's results (or what the
 * generic Lua path makes of them: a re-raised error, fallback's results). */
static int fgl_fast_finish(lua_State *L) {
    fgl_breaker *b = lua_touserdata(L, lua_upvalueindex(FGL_UP_BREAKER));
    int n = lua_gettop(L);
    if (lua_toboolean(L, 6) && fgl_fast_try_record(L, b, 1, 7)) {
        if (fgl_pending(b) == 0) return n - 6;
        /* drain_then(r1, ...) in place of ok */
        lua_pushvalue(L, lua_upvalueindex(FGL_UP_DRAIN));
        lua_replace(L, 6);
        return fgl_fast_tail(L, 6);
    }
    lua_pushvalue(L, lua_upvalueindex(FGL_UP_SETTLE));
    lua_insert(L, 1);
    return fgl_fast_tail(L, 1);
}

/* ---- cb:call as one C function ------------------------------------------- */

/* Upvalues of call (after FGL_UP_BREAKER and FGL_UP_CLOCK). The Lua
 * functions take the breaker's table first. */
enum {
    FGL_CALL_SELF = 3, /* the breaker's Lua table */
    FGL_CALL_SETTLE,   /* settle(self, st, g, t0, slot, seq, ok, ...): the generic outcome path */
    FGL_CALL_GENERIC,  /* the class's call(self, fn, ...): misuse, callable tables, another self */
    FGL_CALL_REJECT,   /* reject(self, state, retry_after|nil, pending) -> nil, rejection */
    FGL_CALL_ADMITTED, /* admitted(self, st, g, t0, slot, seq, fn, ...): drains, then runs fn */
    FGL_CALL_DRAIN     /* drain_then(...): drains the queue, returns its arguments */
};

/* Calls upvalue `up` with everything on the stack from index `from` and
 * returns all its results. */
static int fgl_call_lua(lua_State *L, int up, int from) {
    lua_pushvalue(L, lua_upvalueindex(up));
    lua_insert(L, from);
    return fgl_fast_tail(L, from);
}

/* After fn: the stack is self, st, g, t0, slot, seq, then fn's results (or
 * its error). Also the continuation of the lua_pcallk, when fn yielded. */
static int fgl_call_done(lua_State *L, int status, lua_KContext ctx) {
    (void)ctx;
    fgl_breaker *b = lua_touserdata(L, lua_upvalueindex(FGL_UP_BREAKER));
    int ok = status == LUA_OK || status == LUA_YIELD;
    if (ok && fgl_fast_try_record(L, b, 2, 7)) {
        if (fgl_pending(b) == 0) return lua_gettop(L) - 6;
        return fgl_call_lua(L, FGL_CALL_DRAIN, 7);
    }
    lua_pushboolean(L, ok);
    lua_insert(L, 7);
    return fgl_call_lua(L, FGL_CALL_SETTLE, 1);
}

/* call(self, fn, ...) -> fn's results | nil, rejection; cb:call itself.
 * fn runs under lua_pcallk, as Lua's pcall runs it: it may yield, and its
 * error comes back as pcall's would. */
static int fgl_fast_call(lua_State *L) {
    fgl_breaker *b = lua_touserdata(L, lua_upvalueindex(FGL_UP_BREAKER));
    if (lua_type(L, 2) != LUA_TFUNCTION || !lua_rawequal(L, 1, lua_upvalueindex(FGL_CALL_SELF))) {
        return fgl_call_lua(L, FGL_CALL_GENERIC, 1);
    }
    fgl_check_usable(L, b);
    int nargs = lua_gettop(L) - 2;
    fg_ticket t;
    int has_now = fgl_fast_clock(L, b);
    fgl_enter_at(L, b, lua_upvalueindex(FGL_UP_BREAKER));
    int admitted = has_now ? fg_breaker_acquire_at(b->shared.breaker, b->shared.now, &t)
                           : fg_breaker_acquire(b->shared.breaker, &t);
    fgl_leave(L, b);
    if (!admitted) {
        lua_settop(L, 1);
        lua_pushinteger(L, (lua_Integer)t.state);
        if (t.retry_after >= 0) lua_pushnumber(L, t.retry_after);
        else lua_pushnil(L);
        lua_pushinteger(L, fgl_pending(b));
        return fgl_call_lua(L, FGL_CALL_REJECT, 1);
    }
    luaL_checkstack(L, 8, "fluxgate call");
    lua_pushinteger(L, (lua_Integer)t.state);
    fgl_push_u64(L, t.generation);
    lua_pushnumber(L, t.started_at);
    lua_pushinteger(L, (lua_Integer)t.slot);
    lua_pushinteger(L, (lua_Integer)t.slot_seq);
    lua_rotate(L, 2, 5); /* self, st, g, t0, slot, seq, fn, ... */
    if (fgl_pending(b) != 0) return fgl_call_lua(L, FGL_CALL_ADMITTED, 1);
    int status = lua_pcallk(L, nargs, LUA_MULTRET, 0, 0, fgl_call_done);
    return fgl_call_done(L, status, 0);
}

/* A status read from a result value without running Lua code: a number, a
 * table's raw numeric `status`, or none. Returns 0 when the value is a table
 * with a metatable (what v.status means is then Lua's business). */
static int fgl_plain_status(lua_State *L, int idx, fg_outcome *o) {
    int t = lua_type(L, idx);
    if (t == LUA_TNUMBER) {
        o->has_status = fgl_status(L, idx, &o->status);
    } else if (t == LUA_TTABLE) {
        if (lua_getmetatable(L, idx)) {
            lua_pop(L, 1);
            return 0;
        }
        lua_pushliteral(L, "status");
        lua_rawget(L, idx);
        o->has_status = fgl_status(L, -1, &o->status);
        lua_pop(L, 1);
    }
    return 1;
}

/* give(token, ok, value) -> 0 released (or released before), 1 released and
 * transitions wait for the listeners, -1 not handled here (an error, a value
 * with a metatable: the Lua path releases it), -2 not a token of this breaker.
 * The token is acquire's table { breaker, st, g, t0, slot, seq, released }. */
static int fgl_fast_give(lua_State *L) {
    fgl_breaker *b = lua_touserdata(L, lua_upvalueindex(FGL_UP_BREAKER));
    lua_settop(L, 3);
    int code = -2;
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_rawgeti(L, 1, 1);
        int ours = lua_rawequal(L, -1, lua_upvalueindex(FGL_UP_SELF));
        lua_pop(L, 1);
        if (ours) {
            lua_rawgeti(L, 1, 7);
            int released = lua_toboolean(L, -1);
            lua_pop(L, 1);
            fg_outcome o;
            memset(&o, 0, sizeof o);
            if (released) {
                code = 0;
            } else if (!lua_toboolean(L, 2) || b->shared.breaker == NULL || b->L != NULL ||
                       !fgl_plain_status(L, 3, &o)) {
                code = -1;
            } else {
                lua_pushboolean(L, 1);
                lua_rawseti(L, 1, 7);
                for (int i = 2; i <= 6; i++) lua_rawgeti(L, 1, i);
                fgl_fast_record(L, b, 4, &o);
                code = fgl_pending(b) != 0;
            }
        }
    }
    lua_pushinteger(L, code);
    return 1;
}

/* call_closure(breaker, clock|nil, self, settle, generic, reject, admitted,
 *              drain_then) -> call (see the FGL_CALL_ upvalues) */
static int fgl_call_closure(lua_State *L) {
    fgl_check_breaker(L, 1);
    for (int i = 3; i <= 8; i++) luaL_checkany(L, i);
    lua_settop(L, 8);
    lua_pushcclosure(L, fgl_fast_call, 8);
    return 1;
}

/* fast(breaker, self, settle, drain_then [, clock]) -> enter, finish, take, give
 * The closures of one breaker's fast path; self is the breaker's Lua table,
 * settle and drain_then are Lua functions bound to it (see fluxgate.lua),
 * clock its Lua clock if it has one. */
static int fgl_fast(lua_State *L) {
    fgl_check_breaker(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    luaL_checktype(L, 4, LUA_TFUNCTION);
    lua_settop(L, 5);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 5);
    lua_pushcclosure(L, fgl_fast_enter, 2);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 5);
    lua_pushvalue(L, 3);
    lua_pushvalue(L, 4);
    lua_pushcclosure(L, fgl_fast_finish, 4);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 5);
    lua_pushcclosure(L, fgl_fast_take, 2);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 5);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, fgl_fast_give, 3);
    return 4;
}

const luaL_Reg fgl_fast_funcs[] = {{"fast", fgl_fast}, {"call_closure", fgl_call_closure}, {NULL, NULL}};

#else

const luaL_Reg fgl_fast_funcs[] = {{NULL, NULL}};

#endif
