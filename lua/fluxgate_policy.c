/*
 * fluxgate_policy.c -- compiling policies for Lua: fluxgate.compile / load / breaker(spec)
 * turn into fg_policy userdata, and a failed compilation into its formatted
 * report. Every engine object is owned by a userdata created before the
 * engine call that fills it, so no Lua error can leak it.
 */
#include "fluxgate_lua.h"

/* ---- reports ------------------------------------------------------------- */

static fgl_report_box *fgl_new_report_box(lua_State *L) {
    fgl_report_box *box = fgl_newuserdata(L, sizeof *box, 0);
    box->report = NULL;
    luaL_getmetatable(L, FGL_REPORT_MT);
    lua_setmetatable(L, -2);
    return box;
}

int fgl_report_gc(lua_State *L) {
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
        char *big = fgl_newuserdata(L, n + 1, 0); /* may raise: the box owns the report */
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
    fgl_policy *p = fgl_newuserdata(L, sizeof *p, 0);
    p->policy = NULL;
    luaL_getmetatable(L, FGL_POLICY_MT);
    lua_setmetatable(L, -2);
    return p;
}

fgl_policy *fgl_check_policy(lua_State *L, int idx) {
    fgl_policy *p = luaL_checkudata(L, idx, FGL_POLICY_MT);
    if (p->policy == NULL) luaL_argerror(L, idx, "policy is freed");
    return p;
}

int fgl_policy_gc(lua_State *L) {
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
    size_t chunk_len = 0;
    const char *chunk = luaL_optlstring(L, 2, NULL, &chunk_len);
    /* every message would show the name cut at the NUL */
    if (chunk != NULL && strlen(chunk) != chunk_len)
        return luaL_argerror(L, 2, "a chunk name without NUL bytes expected");
    fg_allocator a = fgl_allocator(L);
    fgl_policy *p = fgl_new_policy(L);
    fgl_report_box *box = fgl_new_report_box(L);
    p->policy = fg_policy_compile(source, len, chunk, &a, &box->report);
    return fgl_policy_result(L, p, box);
}

/* load(path) -> policy | nil, err */
static int fgl_load(lua_State *L) {
    size_t len;
    const char *path = luaL_checklstring(L, 1, &len);
    /* fopen would stop at the NUL and read another file */
    if (strlen(path) != len) return luaL_argerror(L, 1, "a path without NUL bytes expected");
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

/* policy_footprint(policy, index) -> block bytes, handle bytes (what a
 * plain breaker of that definition puts in its userdata besides the
 * binding's own part -- a block without counters of its own, which count
 * by name: for tests and the benchmark) */
static int fgl_policy_footprint(lua_State *L) {
    fgl_policy *p = fgl_check_policy(L, 1);
    size_t index = (size_t)luaL_checkinteger(L, 2);
    fg_breaker_options plain;
    fg_breaker_options_init(&plain);
    plain.sink_only = 1;
    lua_pushinteger(L, (lua_Integer)fg_breaker_footprint_with(p->policy, index, &plain));
    lua_pushinteger(L, (lua_Integer)fg_breaker_handle_footprint(p->policy, index));
    return 2;
}

/* policy_disassemble(policy, index) -> text */
static int fgl_policy_disassemble(lua_State *L) {
    fgl_policy *p = fgl_check_policy(L, 1);
    size_t index = (size_t)luaL_checkinteger(L, 2);
    char small[1];
    size_t n = fg_policy_disassemble(p->policy, index, small, sizeof small);
    char *text = fgl_newuserdata(L, n + 1, 0); /* Lua memory: nothing to free on error */
    fg_policy_disassemble(p->policy, index, text, n + 1);
    lua_pushlstring(L, text, n);
    return 1;
}

const luaL_Reg fgl_policy_funcs[] = {
    {"compile", fgl_compile},
    {"load", fgl_load},
    {"from_expressions", fgl_from_expressions},
    {"policy_names", fgl_policy_names},
    {"policy_find", fgl_policy_find},
    {"policy_disassemble", fgl_policy_disassemble},
    {"policy_footprint", fgl_policy_footprint},
    {NULL, NULL}};
