/*
 * fluxgate_lua.h -- what the C files of the Lua binding share: the Lua 5.1
 * (LuaJIT) / 5.4 shims, the userdata layouts, and the helpers one file
 * offers the others. The binding is one set of sources compiled once per
 * Lua: fluxgate_core.c (the module), fluxgate_policy.c (compiling),
 * fluxgate_breaker.c (making breakers, the call protocol, Lua callbacks)
 * and fluxgate_query.c (state, info, commands, draining transitions).
 * Nothing here is public: lua/fluxgate.lua is the API.
 */
#ifndef FLUXGATE_LUA_H
#define FLUXGATE_LUA_H

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>

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

/* ---- userdata ------------------------------------------------------------ */

#define FGL_POLICY_MT "fluxgate.policy"
#define FGL_BREAKER_MT "fluxgate.breaker"
#define FGL_REPORT_MT "fluxgate.report"
#define FGL_TOKEN_MT "fluxgate.token"

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
    int fast_lua_clock;      /* fluxgate_fast.c's closures read a Lua clock */
    /* Valid only while the engine runs a call made from Lua: */
    lua_State *L;            /* the thread (coroutine) that made the call */
    int env_index;           /* stack index of the environment table */
    int outcome_index;       /* stack index of the outcome table, or 0 */
    /* The fast path (fluxgate_fast.c) builds no outcome table up front: if a
     * Custom() predicate runs, it is made from these (fgl_custom_call). */
    const fg_outcome *lazy_outcome; /* NULL when there is nothing to build from */
    int lazy_value;          /* stack index of the error value or first result, or 0 */
    int lazy_status;         /* stack index of the status value, or 0 */
    int parked_index;        /* stack index of the first callback error, or 0 */
    const char *parked_what; /* which callback failed: "random function" or a Custom() name */
    int parked_custom;       /* 1 when parked_what is a Custom() name */
    fgl_custom_slot *slots;
    int slot_count;
} fgl_breaker;

/* ---- helpers (fluxgate_core.c) ------------------------------------------- */

/* The Lua state's own allocator, so the engine's memory is the state's. */
fg_allocator fgl_allocator(lua_State *L);
void fgl_push_u64(lua_State *L, uint64_t v);
uint64_t fgl_check_u64(lua_State *L, int idx);

/* ---- compiling (fluxgate_policy.c) ---------------------------------------- */

int fgl_policy_gc(lua_State *L);
int fgl_report_gc(lua_State *L);
/* The compiled policy userdata at idx; raises when it is not one. */
fgl_policy *fgl_check_policy(lua_State *L, int idx);
/* compile, load, from_expressions, policy_names, policy_find, policy_disassemble */
extern const luaL_Reg fgl_policy_funcs[];

/* ---- breakers (fluxgate_breaker.c) ---------------------------------------- */

int fgl_breaker_gc(lua_State *L);
/* The breaker at idx (upvalue 1 of the calling function is the breaker
 * metatable); raises when it is not one, is closed, or is busy in one of its
 * own callbacks. */
fgl_breaker *fgl_check_breaker(lua_State *L, int idx);
/* Prepares an engine call (everything that may raise happens here); `now`
 * is read from now_idx when given. Returns 1 when it was. */
int fgl_enter(lua_State *L, fgl_breaker *b, int now_idx, double *now);
/* fgl_enter without `now`, for a breaker userdata at self_idx (which may be
 * an upvalue index); raises nothing. */
void fgl_enter_at(lua_State *L, fgl_breaker *b, int self_idx);
/* Raises when the breaker is closed or busy in one of its own callbacks. */
void fgl_check_usable(lua_State *L, const fgl_breaker *b);
/* The status a Lua number at idx gives an outcome: 1 and *out when it is a
 * number in int64 range, 0 otherwise. */
int fgl_status(lua_State *L, int idx, int64_t *out);
/* Ends an engine call: parks a callback error for the Lua side, restores the stack. */
void fgl_leave(lua_State *L, fgl_breaker *b);
/* Nonzero when transitions or callback errors wait for the Lua side's drain. */
int fgl_pending(const fgl_breaker *b);
/* new_breaker, close, pointer, acquire, release, release_ok (upvalue: the metatable) */
extern const luaL_Reg fgl_breaker_funcs[];

/* ---- the fast call path (fluxgate_fast.c) --------------------------------- */

/* fast (upvalue: the breaker metatable) */
extern const luaL_Reg fgl_fast_funcs[];

/* ---- queries (fluxgate_query.c) ------------------------------------------- */

/* state, command, info, stats, drain (upvalue: the breaker metatable) */
extern const luaL_Reg fgl_query_funcs[];

#endif /* FLUXGATE_LUA_H */
