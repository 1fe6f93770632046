/*
 * fluxgate_call.c -- the call protocol on the classic C API: admission,
 * recording an outcome, cb:acquire / cb:release, and on Lua 5.4 cb:call and
 * cb:call_with_fallback themselves.
 *
 * On Lua 5.4, cb:call is one C function: it admits, runs fn with lua_pcallk
 * (fn may yield: coroutines, OpenResty-style cosockets) and records the
 * outcome in its continuation; transitions go to fluxgate.lua's drain
 * through lua_callk, so a listener may yield too. The ticket travels as
 * three values on the Lua stack (nothing is allocated per call). Under
 * LuaJIT (the Lua 5.1 API, no continuations) breakers with Lua callbacks
 * take this file's admit and record from a Lua cb:call (fluxgate.lua), and
 * every other breaker the FFI (fluxgate/ffi_path.lua).
 *
 * The outcome rules are fluxgate_outcome.c's; the stack layout of a call
 * once admitted is
 *   1 self, 2 key, 3 generation, 4 started_at, 5 fallback|nil, 6 ok, 7.. results
 * (key packs state, slot and slot_seq: see fgl_push_ticket).
 */
#include "fluxgate_lua.h"

enum { FGL_SELF = 1, FGL_KEY, FGL_GEN, FGL_T0, FGL_FALLBACK, FGL_OK, FGL_FIRST };

/* ---- admission and recording --------------------------------------------------- */

static int fgl_admit(lua_State *L, fgl_breaker *b, int self_idx, fg_ticket *t) {
    /* A breaker without a Lua clock or callbacks: the engine alone. */
    if (!(b->head.flags & (FGL_LUA_CLOCK | FGL_CALLBACKS))) return fg_breaker_acquire(b->head.engine, t);
    fgl_call c;
    fgl_read_clock(L, b, self_idx);
    fgl_enter(L, b, self_idx, &c);
    int admitted = (b->head.flags & FGL_LUA_CLOCK) ? fg_breaker_acquire_at(b->head.engine, b->head.now, t)
                                                   : fg_breaker_acquire(b->head.engine, t);
    fgl_leave(L, b, &c);
    return admitted;
}

/* Classifies and records outcome *o (the Lua value at value_idx, 0: none)
 * for ticket *t; duration < 0: since admission. Skipped when the breaker
 * was closed meanwhile (by fn, or by a listener). */
static void fgl_record(lua_State *L, fgl_breaker *b, int self_idx, const fg_ticket *t,
                       const fg_outcome *o, int value_idx, double duration) {
    if (b->head.engine == NULL) return;
    if (!(b->head.flags & (FGL_LUA_CLOCK | FGL_CALLBACKS))) { /* the engine alone */
        fg_breaker_release(b->head.engine, t, o, duration);
        return;
    }
    fgl_call c;
    fgl_read_clock(L, b, self_idx);
    fgl_enter(L, b, self_idx, &c);
    c.outcome = o;
    c.value_index = value_idx;
    fg_outcome_class outcome_class = fg_breaker_classify(b->head.engine, o);
    if (b->head.flags & FGL_LUA_CLOCK)
        fg_breaker_record_at(b->head.engine, t, outcome_class, duration, b->head.now);
    else
        fg_breaker_record(b->head.engine, t, outcome_class, duration);
    fgl_leave(L, b, &c);
}

/* Records the outcome of the protected call whose results are laid out as
 * the header says. Returns the index of the error value (raised, or the e
 * of `nil, e`), or 0 for a result; the stack is as it was. */
static int fgl_settle(lua_State *L, fgl_breaker *b) {
    int top = lua_gettop(L);
    fg_ticket t;
    fg_outcome o;
    fgl_check_ticket(L, FGL_KEY, &t);
    int err = fgl_outcome_at(L, lua_toboolean(L, FGL_OK), FGL_FIRST, &o);
    fgl_record(L, b, FGL_SELF, &t, &o, err != 0 ? err : (top >= FGL_FIRST ? FGL_FIRST : 0), -1.0);
    lua_settop(L, top);
    return err;
}

#if LUA_VERSION_NUM >= 504
/* ---- Lua 5.4: cb:call and cb:call_with_fallback ------------------------------------ */

/* A call's own part of the stack starts at `base`, above the arguments it
 * was given (nothing is moved):
 *   base key, base+1 generation, base+2 started_at, base+3 fallback|nil,
 *   base+4 fn (until it has run), then its arguments; once it has run, its
 *   results (or error) from base+4.
 * The continuations' lua_KContext is base << 3 | phase. */
enum { FGL_K_RAN, FGL_K_RAN_FAILED, FGL_K_DRAINED_ADMISSION, FGL_K_DRAINED_OK, FGL_K_DRAINED_FAILED,
       FGL_K_REJECTED, FGL_K_FALLBACK };
#define FGL_CTX(base, phase) ((lua_KContext)(base) << 3 | (phase))

static int fgl_call_k(lua_State *L, int status, lua_KContext ctx);

/* Runs drain(self) (listeners may yield) and continues in phase `next`. */
static int fgl_drain_then(lua_State *L, fgl_breaker *b, int base, int next) {
    b->head.pending = 0;
    fgl_push_helper(L, FGL_HELPER_DRAIN);
    lua_pushvalue(L, 1);
    lua_callk(L, 1, 0, FGL_CTX(base, next), fgl_call_k);
    return fgl_call_k(L, LUA_OK, FGL_CTX(base, next));
}

/* Calls fallback(v) with the fallback at base+4 and v at base+5; its
 * results are the call's. */
static int fgl_call_fallback(lua_State *L, int base) {
    lua_settop(L, base + 5);
    lua_callk(L, 1, LUA_MULTRET, FGL_CTX(base, FGL_K_FALLBACK), fgl_call_k);
    return lua_gettop(L) - base - 3;
}

/* After the outcome is recorded: fn's results, or the fallback's for an
 * error, or fn's error raised unchanged. */
static int fgl_call_return(lua_State *L, int base, int ok) {
    int first = base + 4;
    int err = 0;
    if (!ok) err = first;
    else if (lua_isnoneornil(L, first) && !lua_isnoneornil(L, first + 1)) err = first + 1;
    if (lua_isnil(L, base + 3)) { /* no fallback */
        if (ok) return lua_gettop(L) - base - 3;
        lua_settop(L, first);
        return lua_error(L);
    }
    if (err == 0) return lua_gettop(L) - base - 3;
    lua_pushvalue(L, base + 3);
    lua_pushvalue(L, err);
    lua_copy(L, -2, first);
    lua_copy(L, -1, first + 1);
    return fgl_call_fallback(L, base);
}

/* fn has run: `ok` is whether it returned. */
static int fgl_call_ran(lua_State *L, int base, int ok) {
    fgl_breaker *b = lua_touserdata(L, 1);
    int top = lua_gettop(L);
    if (b->head.engine != NULL) {
        fg_ticket t;
        fg_outcome o;
        fgl_ticket_from_key((uint64_t)lua_tonumber(L, base), (uint64_t)lua_tonumber(L, base + 1),
                            lua_tonumber(L, base + 2), &t);
        int err = fgl_outcome_at(L, ok, base + 4, &o);
        fgl_record(L, b, 1, &t, &o, err != 0 ? err : (top >= base + 4 ? base + 4 : 0), -1.0);
        lua_settop(L, top);
        if (b->head.pending) return fgl_drain_then(L, b, base, ok ? FGL_K_DRAINED_OK : FGL_K_DRAINED_FAILED);
    }
    return fgl_call_return(L, base, ok);
}

/* A rejection (at base+4, the fallback or nil at base+3): fallback(it), or
 * nil, it. */
static int fgl_call_rejected(lua_State *L, int base) {
    if (lua_isnil(L, base + 3)) {
        lua_pushnil(L);
        lua_pushvalue(L, base + 4);
        return 2;
    }
    lua_pushvalue(L, base + 3);
    lua_pushvalue(L, base + 4);
    lua_copy(L, -2, base + 4);
    lua_copy(L, -1, base + 5);
    return fgl_call_fallback(L, base);
}

/* Runs fn (at base+4) with its arguments under lua_pcallk. */
static int fgl_call_run(lua_State *L, int base) {
    int status = lua_pcallk(L, lua_gettop(L) - base - 4, LUA_MULTRET, 0, FGL_CTX(base, FGL_K_RAN), fgl_call_k);
    return fgl_call_ran(L, base, status == LUA_OK);
}

static int fgl_call_k(lua_State *L, int status, lua_KContext ctx) {
    int base = (int)(ctx >> 3);
    switch (ctx & 7) {
    case FGL_K_RAN: return fgl_call_ran(L, base, status == LUA_OK || status == LUA_YIELD);
    case FGL_K_DRAINED_ADMISSION: return fgl_call_run(L, base);
    case FGL_K_DRAINED_OK: return fgl_call_return(L, base, 1);
    case FGL_K_DRAINED_FAILED: return fgl_call_return(L, base, 0);
    case FGL_K_REJECTED: return fgl_call_rejected(L, base);
    default: return lua_gettop(L) - base - 3; /* FGL_K_FALLBACK: its results from base+4 */
    }
}

/* cb:call(fn, ...) and cb:call_with_fallback(fn, fallback, ...). */
static int fgl_call_common(lua_State *L, int with_fallback) {
    const char *fname = with_fallback ? "call_with_fallback" : "call";
    fgl_breaker *b = fgl_check_breaker(L, 1, fname);
    fgl_check_callable(L, 2, 1, fname);
    if (with_fallback) fgl_check_callable(L, 3, 2, fname);
    int top = lua_gettop(L);
    int first_arg = with_fallback ? 4 : 3;
    int base = top + 1;
    /* a C function starts with LUA_MINSTACK free slots: enough for a few arguments */
    if (top - first_arg + 8 > LUA_MINSTACK) luaL_checkstack(L, top - first_arg + 8, "fluxgate call");
    fg_ticket t;
    if (!fgl_admit(L, b, 1, &t)) {
        lua_settop(L, base + 2);
        if (with_fallback) lua_pushvalue(L, 3);
        else lua_pushnil(L);
        fgl_push_rejection(L, 1, "__breaker_name", &t);
        if (b->head.pending) return fgl_drain_then(L, b, base, FGL_K_REJECTED);
        return fgl_call_rejected(L, base);
    }
    fgl_push_ticket(L, &t);
    if (with_fallback) lua_pushvalue(L, 3);
    else lua_pushnil(L);
    lua_pushvalue(L, 2);
    for (int i = first_arg; i <= top; i++) lua_pushvalue(L, i);
    if (b->head.pending) return fgl_drain_then(L, b, base, FGL_K_DRAINED_ADMISSION);
    return fgl_call_run(L, base);
}

static int fgl_call_plain(lua_State *L) { return fgl_call_common(L, 0); }
static int fgl_call_with_fallback(lua_State *L) { return fgl_call_common(L, 1); }
#endif

/* ---- the classic protocol from Lua (LuaJIT breakers with Lua callbacks) ------------ */

/* admit(self) -> key, generation, started_at | nil, rejection */
static int fgl_admit_lua(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1, "call");
    lua_settop(L, 1);
    fg_ticket t;
    if (!fgl_admit(L, b, 1, &t)) {
        lua_pushnil(L);
        fgl_push_rejection(L, 1, "__breaker_name", &t);
        return 2;
    }
    fgl_push_ticket(L, &t);
    return 3;
}

/* record(self, key, generation, started_at, fallback|nil, ok, ...) -> the
 * index of the error value among the results (1 raised, 2 `nil, e`) or
 * false. The Lua cb:call of LuaJIT's classic path calls it with pcall's
 * results; the outcome rules are fgl_settle's, as on Lua 5.4. */
static int fgl_record_lua(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1, "call");
    int err = fgl_settle(L, b);
    if (err == 0) lua_pushboolean(L, 0);
    else lua_pushinteger(L, err - FGL_OK);
    return 1;
}

/* ---- cb:acquire and cb:release ------------------------------------------------- */

/* A breaker's token (fgl_new_token's kind fgl_token_mark): the ticket, and
 * whether it was released (a second release is a no-op). */
typedef struct fgl_token {
    fgl_token_id id;
    fg_ticket ticket;
    int32_t released;
} fgl_token;
static const char fgl_token_mark = 0;

/* acquire(self) -> token | nil, rejection. */
static int fgl_acquire(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1, "acquire");
    fg_ticket t;
    if (!fgl_admit(L, b, 1, &t)) {
        lua_pushnil(L);
        fgl_push_rejection(L, 1, "__breaker_name", &t);
        return fgl_drain_and_return(L, &b->head, FGL_HELPER_DRAIN, 1, 2);
    }
    fgl_token *k = fgl_new_token(L, sizeof *k, &fgl_token_mark, b->head.serial);
    k->ticket = t;
    k->released = 0;
    return fgl_drain_and_return(L, &b->head, FGL_HELPER_DRAIN, 1, 1);
}

/* release(self, token, ok, value [, duration]); a second release is a no-op. */
static int fgl_release(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1, "release");
    lua_settop(L, 5);
    double duration;
    fgl_token *k = fgl_check_release(L, "breaker", sizeof *k, &fgl_token_mark, b->head.serial, &duration);
    if (k->released) return 0;
    k->released = 1;
    fg_outcome o;
    fgl_release_outcome(L, &o);
    fgl_record(L, b, 1, &k->ticket, &o, 4, duration);
    return fgl_drain_and_return(L, &b->head, FGL_HELPER_DRAIN, 1, 0); /* no results: the stack may hold more */
}

/* classify(cb, ok, value) -> the outcome class (-1 untracked, 0 success, 1
 * failure) of release(token, ok, value), Custom() predicates run inside
 * fgl_enter's bracket. For LuaJIT's FFI path, whose record cannot call Lua:
 * a call it admitted that ends after cb:reload moved the breaker to a
 * definition with Custom() predicates (fluxgate/ffi_path.lua records it
 * with this class), as family_classify does for families. */
static int fgl_classify_lua(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1, "release");
    lua_settop(L, 3);
    lua_pushnil(L); /* where release has its token: ok at 3, value at 4 */
    lua_insert(L, 2);
    fg_outcome o;
    fgl_release_outcome(L, &o);
    fgl_call c;
    fgl_enter(L, b, 1, &c);
    c.outcome = &o;
    c.value_index = 4;
    fg_outcome_class outcome_class = fg_breaker_classify(b->head.engine, &o);
    fgl_leave(L, b, &c);
    lua_pushinteger(L, (lua_Integer)outcome_class);
    return 1;
}

const luaL_Reg fgl_call_funcs[] = {
#if LUA_VERSION_NUM >= 504
    {"call", fgl_call_plain},
    {"call_with_fallback", fgl_call_with_fallback},
#endif
    {"admit", fgl_admit_lua},
    {"record", fgl_record_lua},
    {"acquire", fgl_acquire},
    {"release", fgl_release},
    {"classify", fgl_classify_lua},
    {NULL, NULL}};
