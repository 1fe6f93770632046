/*
 * fluxgate_family_call.c -- the call protocol of a family, by key, on the
 * classic C API: fam:acquire / fam:release, and on Lua 5.4 fam:call and
 * fam:call_with_fallback themselves (fn runs under lua_pcallk and
 * listeners are drained through lua_callk, so both may yield, as for a
 * breaker: see fluxgate_call.c, whose shape this follows). LuaJIT takes the
 * FFI (fluxgate/family.lua) or, for families with Lua callbacks, this
 * file's admit and record from a Lua fam:call.
 *
 * A key is made on first use; a key that cannot be made (the family is
 * full of keys in use) is not a rejection but `nil, err` (err a string),
 * or fallback(err). Outcome rules are fluxgate_outcome.c's.
 */

#include "fluxgate_family.h"

/* As fluxgate_call.c's fgl_token, for a family ticket (the FFI path's
 * fgl_fam_token, a cdata, has the same fields but the tag). */
typedef struct fgl_fam_token {
    fgl_token_id id;
    fg_family_ticket ticket;
    int32_t released;
} fgl_fam_token;
static const char fgl_fam_token_mark = 0;

/* ---- the ticket as Lua values: packed, generation, started_at, entry ---------------- */

/* As fgl_push_ticket, then the key's entry. */
static void fgl_push_fticket(lua_State *L, const fg_family_ticket *t) {
    fgl_push_ticket(L, &t->ticket);
    lua_pushlightuserdata(L, t->entry);
}

/* As fgl_check_ticket, then the key's entry at idx+3. */
static void fgl_read_fticket(lua_State *L, int idx, fg_family_ticket *t) {
    fgl_check_ticket(L, idx, &t->ticket);
    luaL_argcheck(L, lua_type(L, idx + 3) == LUA_TLIGHTUSERDATA, idx + 3, "not a ticket");
    t->entry = lua_touserdata(L, idx + 3);
}

/* ---- admission and recording ----------------------------------------------------------- */

/* 1 admitted, 0 rejected, -1 the key could not be made (message pushed). */
static int fgl_fadmit(lua_State *L, fgl_family *f, int self_idx, int key_idx, const char *fname,
                      fg_family_ticket *t) {
    char buf[32], err[256];
    size_t len;
    const char *key = fgl_family_key(L, key_idx, buf, &len, fname);
    fgl_call c;
    fgl_family_read_clock(L, f, self_idx);
    fgl_enter(L, &f->host, self_idx, &c);
    int rc = (f->host.head.flags & FGL_LUA_CLOCK)
                 ? fg_family_acquire_at(f->family, key, len, f->host.head.now, t, err, sizeof err)
                 : fg_family_acquire(f->family, key, len, t, err, sizeof err);
    fgl_leave(L, &f->host, &c);
    if (rc < 0) lua_pushstring(L, err);
    return rc;
}

/* Pushes the rejection value for ticket t of the key at key_idx (already
 * checked by fgl_fadmit). Its `key` is the key's text, as in signals and
 * fam:keys() and as LuaJIT's paths give it (key 42 is "42" everywhere). */
static void fgl_push_frejection(lua_State *L, int self_idx, int key_idx, const fg_family_ticket *t) {
    char buf[32];
    size_t len;
    const char *key = fgl_family_key(L, key_idx, buf, &len, "call");
    fgl_push_rejection(L, self_idx, "__family_name", &t->ticket);
    lua_pushlstring(L, key, len);
    lua_setfield(L, -2, "key");
}

/* Classifies and records outcome *o (the Lua value at value_idx, 0: none);
 * skipped when the family was closed meanwhile. */
static void fgl_frecord(lua_State *L, fgl_family *f, int self_idx, const fg_family_ticket *t,
                        const fg_outcome *o, int value_idx, double duration) {
    if (f->family == NULL) return;
    fgl_call c;
    fgl_family_read_clock(L, f, self_idx);
    fgl_enter(L, &f->host, self_idx, &c);
    c.outcome = o;
    c.value_index = value_idx;
    fg_outcome_class outcome_class = fg_family_classify(f->family, o);
    if (f->host.head.flags & FGL_LUA_CLOCK)
        fg_family_record_at(f->family, t, outcome_class, duration, f->host.head.now);
    else
        fg_family_record(f->family, t, outcome_class, duration);
    fgl_leave(L, &f->host, &c);
}

#if LUA_VERSION_NUM >= 504

/* ---- Lua 5.4: fam:call and fam:call_with_fallback ----------------------------------------- */

/* A call's own part of the stack starts at `base`, above its arguments:
 *   base packed, +1 generation, +2 started_at, +3 entry, +4 fallback|nil,
 *   +5 fn (until it has run) and its arguments; then its results (or error).
 * The key is argument 2. lua_KContext is base << 3 | phase. */
enum { FGL_K_RAN, FGL_K_DRAINED_ADMISSION, FGL_K_DRAINED_OK, FGL_K_DRAINED_FAILED, FGL_K_REJECTED,
       FGL_K_FALLBACK };
#define FGL_CTX(base, phase) ((lua_KContext)(base) << 3 | (phase))
#define FGL_FN(base) ((base) + 5)

static int fgl_fcall_k(lua_State *L, int status, lua_KContext ctx);

static int fgl_fdrain_then(lua_State *L, fgl_family *f, int base, int next) {
    f->host.head.pending = 0;
    fgl_push_helper(L, FGL_HELPER_FAMILY_DRAIN);
    lua_pushvalue(L, 1);
    lua_callk(L, 1, 0, FGL_CTX(base, next), fgl_fcall_k);
    return fgl_fcall_k(L, LUA_OK, FGL_CTX(base, next));
}

/* fallback(v) with the fallback and v copied to base+5, base+6. */
static int fgl_fcall_fallback(lua_State *L, int base, int v) {
    lua_pushvalue(L, base + 4);
    lua_pushvalue(L, v);
    lua_copy(L, -2, FGL_FN(base));
    lua_copy(L, -1, FGL_FN(base) + 1);
    lua_settop(L, FGL_FN(base) + 1);
    lua_callk(L, 1, LUA_MULTRET, FGL_CTX(base, FGL_K_FALLBACK), fgl_fcall_k);
    return lua_gettop(L) - FGL_FN(base) + 1;
}

static int fgl_fcall_return(lua_State *L, int base, int ok) {
    int first = FGL_FN(base);
    int err = 0;
    if (!ok) err = first;
    else if (lua_isnoneornil(L, first) && !lua_isnoneornil(L, first + 1)) err = first + 1;
    if (lua_isnil(L, base + 4)) {
        if (ok) return lua_gettop(L) - first + 1;
        lua_settop(L, first);
        return lua_error(L);
    }
    if (err == 0) return lua_gettop(L) - first + 1;
    return fgl_fcall_fallback(L, base, err);
}

static int fgl_fcall_ran(lua_State *L, int base, int ok) {
    fgl_family *f = lua_touserdata(L, 1);
    int top = lua_gettop(L);
    if (f->family != NULL) {
        fg_family_ticket t;
        fg_outcome o;
        fgl_read_fticket(L, base, &t);
        int err = fgl_outcome_at(L, ok, FGL_FN(base), &o);
        fgl_frecord(L, f, 1, &t, &o, err != 0 ? err : (top >= FGL_FN(base) ? FGL_FN(base) : 0), -1.0);
        lua_settop(L, top);
        if (f->host.head.pending)
            return fgl_fdrain_then(L, f, base, ok ? FGL_K_DRAINED_OK : FGL_K_DRAINED_FAILED);
    }
    return fgl_fcall_return(L, base, ok);
}

/* The rejection (or the full family's message) at base+5. */
static int fgl_fcall_rejected(lua_State *L, int base) {
    if (lua_isnil(L, base + 4)) {
        lua_pushnil(L);
        lua_pushvalue(L, FGL_FN(base));
        return 2;
    }
    return fgl_fcall_fallback(L, base, FGL_FN(base));
}

static int fgl_fcall_run(lua_State *L, int base) {
    int status = lua_pcallk(L, lua_gettop(L) - FGL_FN(base), LUA_MULTRET, 0, FGL_CTX(base, FGL_K_RAN), fgl_fcall_k);
    return fgl_fcall_ran(L, base, status == LUA_OK);
}

static int fgl_fcall_k(lua_State *L, int status, lua_KContext ctx) {
    int base = (int)(ctx >> 3);
    switch (ctx & 7) {
    case FGL_K_RAN: return fgl_fcall_ran(L, base, status == LUA_OK || status == LUA_YIELD);
    case FGL_K_DRAINED_ADMISSION: return fgl_fcall_run(L, base);
    case FGL_K_DRAINED_OK: return fgl_fcall_return(L, base, 1);
    case FGL_K_DRAINED_FAILED: return fgl_fcall_return(L, base, 0);
    case FGL_K_REJECTED: return fgl_fcall_rejected(L, base);
    default: return lua_gettop(L) - FGL_FN(base) + 1; /* the fallback's results */
    }
}

/* family_call(fam, key, fn, ...) and family_call_with_fallback(fam, key, fn, fallback, ...) */
static int fgl_fcall_common(lua_State *L, int with_fallback) {
    const char *fname = with_fallback ? "call_with_fallback" : "call";
    fgl_family *f = fgl_check_family(L, 1, fname);
    fgl_check_callable(L, 3, 2, fname);
    if (with_fallback) fgl_check_callable(L, 4, 3, fname);
    int top = lua_gettop(L);
    int first_arg = with_fallback ? 5 : 4;
    int base = top + 1;
    luaL_checkstack(L, top - first_arg + 10, "fluxgate call");
    fg_family_ticket t;
    int rc = fgl_fadmit(L, f, 1, 2, fname, &t); /* -1: the message is on top */
    if (rc <= 0) {
        int msg = lua_gettop(L);
        lua_settop(L, base + 3);
        if (with_fallback) lua_pushvalue(L, 4);
        else lua_pushnil(L);
        if (rc < 0) lua_pushvalue(L, msg);
        else fgl_push_frejection(L, 1, 2, &t);
        if (f->host.head.pending) return fgl_fdrain_then(L, f, base, FGL_K_REJECTED);
        return fgl_fcall_rejected(L, base);
    }
    fgl_push_fticket(L, &t);
    if (with_fallback) lua_pushvalue(L, 4);
    else lua_pushnil(L);
    lua_pushvalue(L, 3);
    for (int i = first_arg; i <= top; i++) lua_pushvalue(L, i);
    if (f->host.head.pending) return fgl_fdrain_then(L, f, base, FGL_K_DRAINED_ADMISSION);
    return fgl_fcall_run(L, base);
}

static int fgl_fcall_plain(lua_State *L) { return fgl_fcall_common(L, 0); }
static int fgl_fcall_with_fallback(lua_State *L) { return fgl_fcall_common(L, 1); }

#endif

/* ---- the classic protocol from Lua (LuaJIT families with Lua callbacks) ------------------ */

/* family_admit(fam, key) -> packed, generation, started_at, entry
 *                         | nil, rejection | false, err (the family is full) */
static int fgl_fadmit_lua(lua_State *L) {
    fgl_family *f = fgl_check_family(L, 1, "call");
    lua_settop(L, 2);
    fg_family_ticket t;
    int rc = fgl_fadmit(L, f, 1, 2, "call", &t);
    if (rc < 0) {
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    if (rc == 0) {
        lua_pushnil(L);
        fgl_push_frejection(L, 1, 2, &t);
        return 2;
    }
    fgl_push_fticket(L, &t);
    return 4;
}

/* family_record(fam, packed, generation, started_at, entry, ok, ...) -> the
 * index of the error value among the results (1 raised, 2 `nil, e`) or false. */
static int fgl_frecord_lua(lua_State *L) {
    fgl_family *f = fgl_to_family(L, 1);
    if (f == NULL) return luaL_argerror(L, 1, "fluxgate family expected");
    int top = lua_gettop(L);
    fg_family_ticket t;
    fg_outcome o;
    fgl_read_fticket(L, 2, &t);
    int err = fgl_outcome_at(L, lua_toboolean(L, 6), 7, &o);
    fgl_frecord(L, f, 1, &t, &o, err != 0 ? err : (top >= 7 ? 7 : 0), -1.0);
    lua_settop(L, top);
    if (err == 0) lua_pushboolean(L, 0);
    else lua_pushinteger(L, err - 6);
    return 1;
}

/* ---- fam:acquire and fam:release ----------------------------------------------------------- */

/* family_acquire(fam, key) -> token | nil, rejection | nil, err (full) */
static int fgl_facquire(lua_State *L) {
    fgl_family *f = fgl_check_family(L, 1, "acquire");
    lua_settop(L, 2);
    fg_family_ticket t;
    int rc = fgl_fadmit(L, f, 1, 2, "acquire", &t);
    if (rc < 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return fgl_drain_and_return(L, &f->host.head, FGL_HELPER_FAMILY_DRAIN, 1, 2);
    }
    if (rc == 0) {
        lua_pushnil(L);
        fgl_push_frejection(L, 1, 2, &t);
        return fgl_drain_and_return(L, &f->host.head, FGL_HELPER_FAMILY_DRAIN, 1, 2);
    }
    fgl_fam_token *k = fgl_new_token(L, sizeof *k, &fgl_fam_token_mark, f->host.head.serial);
    k->ticket = t;
    k->released = 0;
    return fgl_drain_and_return(L, &f->host.head, FGL_HELPER_FAMILY_DRAIN, 1, 1);
}

/* family_release(fam, token, ok, value [, duration]); a second release is a no-op. */
static int fgl_frelease(lua_State *L) {
    fgl_family *f = fgl_check_family(L, 1, "release");
    lua_settop(L, 5);
    double duration;
    fgl_fam_token *k =
        fgl_check_release(L, "family", sizeof *k, &fgl_fam_token_mark, f->host.head.serial, &duration);
    if (k->released) return 0;
    k->released = 1;
    fg_outcome o;
    fgl_release_outcome(L, &o);
    fgl_frecord(L, f, 1, &k->ticket, &o, 4, duration);
    lua_settop(L, 5);
    return fgl_drain_and_return(L, &f->host.head, FGL_HELPER_FAMILY_DRAIN, 1, 0);
}

/* family_classify(fam, ok, value) -> the outcome class (-1 untracked, 0
 * success, 1 failure) of release(token, ok, value), Custom() predicates run
 * inside fgl_enter's bracket. For LuaJIT's FFI path, whose record cannot
 * call Lua: a call it admitted that ends after fam:reload moved the family
 * to a definition with Custom() predicates (fluxgate/family_ffi.lua records
 * it with this class). */
static int fgl_fclassify_lua(lua_State *L) {
    fgl_family *f = fgl_check_family(L, 1, "release");
    lua_settop(L, 3);
    lua_pushnil(L); /* where release has its token: ok at 3, value at 4 */
    lua_insert(L, 2);
    fg_outcome o;
    fgl_release_outcome(L, &o);
    fgl_call c;
    fgl_enter(L, &f->host, 1, &c);
    c.outcome = &o;
    c.value_index = 4;
    fg_outcome_class outcome_class = fg_family_classify(f->family, &o);
    fgl_leave(L, &f->host, &c);
    lua_pushinteger(L, (lua_Integer)outcome_class);
    return 1;
}

static const luaL_Reg fgl_family_call_funcs[] = {
#if LUA_VERSION_NUM >= 504
    {"family_call", fgl_fcall_plain},
    {"family_call_with_fallback", fgl_fcall_with_fallback},
#endif
    {"family_admit", fgl_fadmit_lua},
    {"family_record", fgl_frecord_lua},
    {"family_acquire", fgl_facquire},
    {"family_release", fgl_frelease},
    {"family_classify", fgl_fclassify_lua},
    {NULL, NULL}};

void fgl_family_register(lua_State *L, int module_idx, int table_idx) {
    lua_pushvalue(L, table_idx);
    lua_pushvalue(L, module_idx);
    luaL_setfuncs(L, fgl_family_funcs, 1);
    lua_pushvalue(L, module_idx);
    luaL_setfuncs(L, fgl_family_stats_funcs, 1);
    lua_pushvalue(L, module_idx);
    luaL_setfuncs(L, fgl_family_reload_funcs, 1);
    lua_pushvalue(L, module_idx);
    luaL_setfuncs(L, fgl_family_call_funcs, 1);
    lua_pop(L, 1);
}
