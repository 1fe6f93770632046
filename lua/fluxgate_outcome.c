/*
 * fluxgate_outcome.c -- the outcome rules of SPEC section 7 on the classic C
 * API, written once: whether a protected call failed, the status of a
 * result, an error's type, message and status (with the "chunk:line: "
 * position taken off a string error's type), and the table Custom()
 * predicates receive. Every read of a user's value that could run Lua code
 * (a metatable's __index or __tostring) is protected: a hostile value makes
 * the field absent, never makes a call raise.
 *
 * The LuaJIT FFI path reads outcomes in Lua (lua/fluxgate/outcome.lua);
 * tests/lua/outcome_rules_spec.lua holds the two to the same answers.
 */
#include <string.h>

#include "fluxgate_lua.h"

int fgl_status_number(lua_State *L, int idx, int64_t *out) {
    if (lua_type(L, idx) != LUA_TNUMBER) return 0;
    double d = lua_tonumber(L, idx);
    if (!(d > -9.0e18 && d < 9.0e18)) return 0;
    *out = (int64_t)d;
    return 1;
}

/* ---- protected reads ----------------------------------------------------------- */

/* get_status(t) -> t.status, run under lua_pcall. */
static int fgl_get_status(lua_State *L) {
    lua_getfield(L, 1, "status");
    return 1;
}

void fgl_result_status(lua_State *L, int idx, int numbers_count, fg_outcome *o) {
    int t = lua_type(L, idx);
    if (t == LUA_TNUMBER) {
        if (numbers_count) o->has_status = fgl_status_number(L, idx, &o->status);
        return;
    }
    if (t != LUA_TTABLE) return;
    if (!lua_getmetatable(L, idx)) { /* a plain table: nothing can run */
        lua_pushliteral(L, "status");
        lua_rawget(L, idx);
    } else {
        lua_pop(L, 1);
        lua_pushcfunction(L, fgl_get_status);
        lua_pushvalue(L, idx);
        if (lua_pcall(L, 1, 1, 0) != 0) {
            lua_pop(L, 1);
            return;
        }
    }
    o->has_status = fgl_status_number(L, -1, &o->status);
    lua_pop(L, 1);
}

/* Where the type of a string error starts: after Lua's "chunk:line: "
 * position ('[string "..."]:N: ', or 'chunk:N: ' ending at the string's
 * first ": " with no newline before it); 0 when there is none. A chunk name
 * may hold ':' -- OpenResty's inline code is 'content_by_lua(nginx.conf:10)',
 * a Windows path 'C:\\app\\x.lua' -- but not ": ", so a message such as
 * "dns: 1.2.3.4:53: timeout" keeps its text. fluxgate/outcome.lua's
 * strip_position reads it alike. */
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
    size_t i = 0; /* the first ": " */
    while (i + 1 < n && s[i] != '\n' && !(s[i] == ':' && s[i + 1] == ' ')) i++;
    if (i + 1 >= n || s[i] != ':') return 0;
    size_t d = i; /* the line number: the digits just before it, after a ':' */
    while (d > 0 && s[d - 1] >= '0' && s[d - 1] <= '9') d--;
    if (d == i || d < 2 || s[d - 1] != ':') return 0;
    return i + 2;
}

#if LUA_VERSION_NUM >= 504
#define fgl_tolstring(L, idx) ((void)luaL_tolstring((L), (idx), NULL))
#else
/* luaL_tolstring for Lua 5.1: tostring(v) without the global function. */
static void fgl_tolstring(lua_State *L, int idx) {
    if (luaL_callmeta(L, idx, "__tostring")) {
        if (!lua_isstring(L, -1)) luaL_error(L, "'__tostring' must return a string");
        return;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
    case LUA_TSTRING:
        lua_pushvalue(L, idx);
        lua_tostring(L, -1);
        break;
    case LUA_TBOOLEAN: lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false"); break;
    case LUA_TNIL: lua_pushliteral(L, "nil"); break;
    default: lua_pushfstring(L, "%s: %p", luaL_typename(L, idx), lua_topointer(L, idx)); break;
    }
}
#endif

/* read_error(e) -> type|nil, message|nil, status|nil for a non-string error
 * value, run under lua_pcall (any field access may run Lua code). */
static int fgl_read_error(lua_State *L) {
    lua_settop(L, 1);
    if (lua_type(L, 1) != LUA_TTABLE) {
        fgl_tolstring(L, 1); /* 2: message */
        lua_pushnil(L);
        lua_insert(L, 2);
        lua_pushnil(L);
        return 3;
    }
    lua_getfield(L, 1, "type"); /* 2 */
    if (lua_type(L, 2) != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_getfield(L, 1, "name");
        if (lua_type(L, 2) != LUA_TSTRING) {
            lua_pop(L, 1);
            lua_pushnil(L);
        }
    }
    lua_getfield(L, 1, "message"); /* 3 */
    if (lua_isnil(L, 3)) {
        lua_pop(L, 1);
        lua_getfield(L, 1, "msg");
    }
    if (lua_type(L, 3) == LUA_TNUMBER) {
        lua_tostring(L, 3); /* converts in place */
    } else if (lua_type(L, 3) != LUA_TSTRING) {
        lua_pop(L, 1);
        fgl_tolstring(L, 1);
    }
    lua_getfield(L, 1, "status"); /* 4 */
    return 3;
}

void fgl_error_fields(lua_State *L, int idx, fg_outcome *o) {
    o->is_error = 1;
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t n;
        const char *e = lua_tolstring(L, idx, &n);
        size_t skip = fgl_position_length(e, n);
        o->type = e + skip;
        o->type_len = n - skip;
        o->message = e;
        o->message_len = n;
        return;
    }
    int top = lua_gettop(L);
    lua_pushcfunction(L, fgl_read_error);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 1, 3, 0) != 0) {
        lua_settop(L, top); /* a hostile value: no fields */
        return;
    }
    o->has_status = fgl_status_number(L, top + 3, &o->status);
    if (lua_type(L, top + 1) == LUA_TSTRING) o->type = lua_tolstring(L, top + 1, &o->type_len);
    if (lua_type(L, top + 2) == LUA_TSTRING) o->message = lua_tolstring(L, top + 2, &o->message_len);
}

int fgl_outcome_at(lua_State *L, int ok, int first, fg_outcome *o) {
    memset(o, 0, sizeof *o);
    if (!ok) {
        fgl_error_fields(L, first, o);
        return first;
    }
    int t = lua_type(L, first);
    /* `nil, e` with e ~= nil is an error (the Lua/OpenResty convention) */
    if (t <= LUA_TNIL && !lua_isnoneornil(L, first + 1)) {
        fgl_error_fields(L, first + 1, o);
        return first + 1;
    }
    if (t == LUA_TTABLE) fgl_result_status(L, first, 0, o);
    return 0;
}

int fgl_build_outcome(lua_State *L) {
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
    if (o->has_status) {
        fgl_pushcount(L, o->status);
        lua_setfield(L, -2, "status");
    }
    return 1;
}

/* error_fields(e) -> type, message, status as the C paths read them (for
 * the tests, which compare them with fluxgate/outcome.lua's). */
static int fgl_error_fields_lua(lua_State *L) {
    fg_outcome o;
    memset(&o, 0, sizeof o);
    lua_settop(L, 1);
    fgl_error_fields(L, 1, &o);
    if (o.type) lua_pushlstring(L, o.type, o.type_len);
    else lua_pushnil(L);
    if (o.message) lua_pushlstring(L, o.message, o.message_len);
    else lua_pushnil(L);
    if (o.has_status) fgl_pushcount(L, o.status);
    else lua_pushnil(L);
    return 3;
}

/* result_status(v [, numbers_count]) -> status|nil (for the tests too) */
static int fgl_result_status_lua(lua_State *L) {
    fg_outcome o;
    memset(&o, 0, sizeof o);
    lua_settop(L, 2);
    fgl_result_status(L, 1, lua_toboolean(L, 2), &o);
    if (o.has_status) fgl_pushcount(L, o.status);
    else lua_pushnil(L);
    return 1;
}

const luaL_Reg fgl_outcome_funcs[] = {
    {"error_fields", fgl_error_fields_lua}, {"result_status", fgl_result_status_lua}, {NULL, NULL}};
