/*
 * fluxgate_lua.h -- what the C files of the Lua binding share: the Lua 5.1
 * (LuaJIT) / 5.4 shims, the breaker userdata's layout, and the helpers one
 * file offers the others. The binding is one set of sources compiled once
 * per Lua: fluxgate_core.c (the module), fluxgate_policy.c (compiling),
 * fluxgate_breaker.c (making, closing and registering breakers),
 * fluxgate_callback.c (the engine callbacks that call Lua),
 * fluxgate_outcome.c (reading outcomes from Lua values),
 * fluxgate_call.c (the call protocol) and fluxgate_query.c (state, info,
 * commands, transitions, metrics). Nothing here is public: lua/fluxgate.lua
 * is the API.
 */
#ifndef FLUXGATE_LUA_H
#define FLUXGATE_LUA_H

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <string.h>

#include "fluxgate.h"

/* ---- where a block goes in Lua memory ---------------------------------- */

/* A breaker's block starts a cache line in its userdata (and a reload's
 * block in its own): Lua aligns userdata memory to 8 bytes only, and where
 * a block began 40 bytes past a line boundary, LuaJIT acquire+release on it
 * cost 21.0 ns on average against 19.5 at the other seven offsets (384
 * breakers in 8 processes, 43 of the 52 at that offset slower than 20 ns,
 * measured as bench/lua_bench.lua's "48 breakers" line does but with the
 * blocks left where they fell; C shows the same for a block without
 * counters of its own right after its handle: HACKING.md, "Benchmarks").
 * The price is FGL_BLOCK_SLACK bytes at most per breaker. */
enum { FGL_BLOCK_LINE = 64, FGL_BLOCK_SLACK = FGL_BLOCK_LINE - FG_BLOCK_ALIGN };

/* The first line boundary at or after p (p is 8-aligned: within SLACK). */
static inline void *fgl_block_at(void *p) {
    uintptr_t a = ((uintptr_t)p + (FGL_BLOCK_LINE - 1)) & ~(uintptr_t)(FGL_BLOCK_LINE - 1);
    return (char *)p + (a - (uintptr_t)p);
}

/* ---- Lua 5.1 (LuaJIT) / 5.4 shims --------------------------------------- */

#if LUA_VERSION_NUM >= 504
#define fgl_newuserdata(L, size, nuv) lua_newuserdatauv((L), (size), (nuv))
#define fgl_setuservalue(L, idx) ((void)lua_setiuservalue((L), (idx), 1))
#define fgl_getuservalue(L, idx) lua_getiuservalue((L), (idx), 1)
#define fgl_rawlen(L, idx) lua_rawlen((L), (idx))
#define fgl_rawgetp(L, idx, p) lua_rawgetp((L), (idx), (p))
/* Counters are exact integers on 5.4 ... */
#define fgl_pushcount(L, n) lua_pushinteger((L), (lua_Integer)(n))
#elif LUA_VERSION_NUM == 501
#define fgl_newuserdata(L, size, nuv) ((void)(nuv), lua_newuserdata((L), (size)))
#define fgl_setuservalue(L, idx) ((void)lua_setfenv((L), (idx)))
#define fgl_getuservalue(L, idx) (lua_getfenv((L), (idx)), lua_type((L), -1))
#define fgl_rawlen(L, idx) lua_objlen((L), (idx))
#define fgl_rawgetp(L, idx, p) \
    (lua_pushlightuserdata((L), (void *)(p)), lua_rawget((L), (idx) < 0 ? (idx) - 1 : (idx)))
/* ... and doubles on 5.1, exact up to 2^53, which no counter reaches. */
#define fgl_pushcount(L, n) lua_pushnumber((L), (lua_Number)(n))
#else
#error "fluxgate.core supports Lua 5.4 and LuaJIT 2.1 (Lua 5.1 API)"
#endif

/* ---- what core.so exports ------------------------------------------------- */

/* The binding is built with -fvisibility=hidden: core.so, which nginx loads
 * into every worker, exports only what is marked. FGL_EXPORT marks the
 * binding's own exports: luaopen_fluxgate_core, and the entry points
 * LuaJIT's FFI path calls (fluxgate_breaker_ffi.c, fluxgate_family_ffi.c);
 * the engine's FG_API functions come in with the engine (cdef.lua). */
#define FGL_EXPORT FG_API

/* ---- what LuaJIT's FFI reads too --------------------------------------------- */

/* Declared once: expanded here as C and stringized for ffi.cdef. */
#define FGL_STRINGIZE(...) #__VA_ARGS__
#define FGL_EXPAND_STRINGIZE(...) FGL_STRINGIZE(__VA_ARGS__)
#define FGL_FFI_TYPES                                                          \
    typedef struct fgl_head {                                                  \
        fg_breaker *engine;                                                    \
        double now;                                                            \
        uint32_t pending;                                                      \
        uint32_t flags;                                                        \
        uint64_t serial;                                                       \
    } fgl_head;
FGL_FFI_TYPES

/* The breakers' FFI entry points (fluxgate_breaker_ffi.c), declared once:
 * as C here and, stringized after FGL_FFI_TYPES, in core.FFI_CDEF. */
#define FGL_BREAKER_FFI_FUNCTIONS                                                                  \
    int fgl_breaker_ffi_acquire(void *breaker_ud, int have_now, double now, fg_ticket *ticket);    \
    int fgl_breaker_ffi_record(void *breaker_ud, const fg_ticket *ticket, int outcome_class,      \
                               const fg_outcome *outcome, double duration, int have_now, double now);
FGL_BREAKER_FFI_FUNCTIONS

/* fgl_head: the first bytes of every breaker userdata (LuaJIT's FFI casts the
 * userdata to fgl_head *). engine is NULL once the breaker is closed; now is
 * the Lua clock's reading for the current engine call (the engine's clock
 * callback returns it); pending is nonzero while transitions or callback
 * errors wait for the Lua side (drain); serial tells this breaker's tokens
 * from any other's, also one made later at the same address. */
enum {
    FGL_LUA_CLOCK = 1, /* the breaker reads a Lua clock (its class holds it) */
    FGL_CALLBACKS = 2, /* the engine calls Lua: a random function or Custom() predicates */
    FGL_HAS_ENV = 4,   /* the user value is the breaker's environment table */
    FGL_LISTENING = 8, /* the engine queues transitions for the Lua side (it has listeners) */
    FGL_SHARED = 16,   /* the state block is in a shared map (fluxgate_shared.c), not here */
    FGL_FAMILY_KEY = 32, /* and it is a shared family's key (fluxgate_shared_family.c): its
                         * counters are the family's, which stats() does not list */
    FGL_ENV_ASIDE = 64, /* Lua 5.4: the environment table is in the module's weak table
                         * of environments (a breaker made without a user value slot) */
    FGL_CLOSED = 128    /* closed: engine (a family's family) is NULL. What LuaJIT's FFI
                         * path checks right before an engine call: reading the pointer
                         * itself boxes it, an allocation whose collection step may run
                         * this very object's finalizer (one reachable again through a
                         * weak-keyed table) and so hand back a pointer just freed; a
                         * uint32 is read without allocating */
};

/* What the FFI path's C entry points (fluxgate_breaker_ffi.c,
 * fluxgate_family_ffi.c) return for a closed object, as core.FFI_CLOSED. */
enum { FGL_FFI_CLOSED = -2 };

/* ---- userdata ------------------------------------------------------------ */

#define FGL_POLICY_MT "fluxgate.policy"
#define FGL_REPORT_MT "fluxgate.report"
#define FGL_SHM_MT "fluxgate.shared_map"
#define FGL_SFAM_MT "fluxgate.shared_family"

typedef struct fgl_policy {
    fg_policy *policy; /* NULL until compiled, and after __gc */
} fgl_policy;

/* Owns a report while its text is turned into a Lua string, so that a memory
 * error while pushing cannot leak it. */
typedef struct fgl_report_box {
    fg_report *report;
} fgl_report_box;

/* A transition waiting for the Lua side. The reason points into the policy,
 * which the engine keeps alive while the breaker lives. */
typedef struct fgl_event {
    fg_state old_state;
    fg_state new_state;
    double timestamp;
    const char *reason;
    uint64_t sequence;
    fg_metric metric;
} fgl_event;

struct fgl_call;
struct fgl_module;

/* What only some breakers need, behind one pointer (fgl_breaker.side):
 * the engine call in progress (breakers with callbacks), the transition
 * queue (breakers with listeners), and a shared breaker's map and place in
 * the module's list. Allocated through the Lua state's allocator on first
 * need (fgl_side_get), freed by close (fgl_side_free): a plain breaker has
 * none, and its userdata stays small. The collector does not see these
 * bytes; a breaker that has them also has an environment table or a shared
 * map, which cost more. */
typedef struct fgl_side {
    struct fgl_call *call;    /* non-NULL while the engine runs a call that may call Lua */
    fgl_event *events;        /* queued transitions (alloc), in sequence order */
    uint32_t event_count, event_cap;
    uint32_t errors;          /* callback errors parked since the last drain */
    uint32_t lost;            /* transitions the queue had no memory for */
    struct fgl_module *module; /* its allocator made this and the queue; counts sides */
    struct fgl_breaker *owner;
    struct fgl_side *prev, *next; /* the module's list of open shared breakers */
    struct fg_shm *shm;       /* FGL_SHARED: the map holding the block (one reference) */
} fgl_side;

/* A breaker: one userdata whose metatable is its class (fluxgate.lua: the
 * methods, the name, the Lua clock). Its memory is this struct, then the
 * engine's handle (fg_breaker_handle_footprint bytes; head.engine points
 * to it), then the engine's state block (fg_breaker_footprint bytes), each
 * 8-aligned: the collector sees a breaker's whole size (but for the side
 * structure of the few breakers that need one). Its user value, when
 * FGL_HAS_ENV is set, is its environment table (fluxgate.lua's listeners,
 * the random function and Custom() predicates, a parked callback error). */
typedef struct fgl_breaker {
    fgl_head head;            /* first: the FFI's view */
    fgl_side *side;           /* NULL until needed (see fgl_side) */
    uintptr_t tag;            /* fgl_tag(this, mark): what the C functions check (fgl_to_marked) */
} fgl_breaker;

/* The engine call in progress that may call Lua, or NULL. */
static inline struct fgl_call *fgl_call_of(const fgl_breaker *b) {
    return b->side != NULL ? b->side->call : NULL;
}
/* b's side structure, made when missing (through the module's allocator,
 * the Lua state's; the caller has the module upvalue); raises "out of
 * memory" (b stays as it was). */
fgl_side *fgl_side_get(lua_State *L, fgl_breaker *b);
/* Frees b's side structure and its queue, if any (close; the engine
 * breaker is already freed, so no listener can queue into it). */
void fgl_side_free(fgl_breaker *b);

/* Environment table slots (array part). */
enum {
    FGL_ENV_RANDOM = 1, /* the Lua random function, or false */
    FGL_ENV_ERROR,      /* the first parked callback error, or false */
    FGL_ENV_LISTENERS,  /* fluxgate.lua's listener array, or false */
    FGL_ENV_FIRST_CUSTOM /* the Custom() predicates, in slot order */
};

/* One Custom() name the breaker can resolve: its predicate is env[env_slot]. */
typedef struct fgl_custom_slot {
    fgl_breaker *owner;
    int env_slot;
} fgl_custom_slot;

/* An engine call in progress that may call Lua (a random function, Custom()
 * predicates): on the C stack of the function that made it. */
typedef struct fgl_call {
    lua_State *L;
    int env_index;             /* stack index of the environment table */
    int outcome_index;         /* stack index of the Custom() outcome table, or 0 */
    const fg_outcome *outcome; /* what that table is built from, or NULL */
    int value_index;           /* the outcome's Lua value (error or first result), or 0 */
    int parked_index;          /* stack index of the first callback error, or 0 */
    const char *parked_what;
    int parked_custom;
} fgl_call;

/* The module's own state, a userdata that every function holding breakers
 * keeps as an upvalue: the list of open shared breakers (for
 * fluxgate.prometheus) and the next serial. Its user value is a table:
 * [1], [2] the Lua callbacks (fgl_init), [3] the per-name totals of closed
 * families, [4] the families' drain (fluxgate_family.h), [FGL_MODULE_SINKS]
 * the per-name counter sinks of plain breakers (fluxgate_sink.c),
 * [FGL_MODULE_ENVS] a weak-keyed table: breaker -> environment, for the
 * Lua 5.4 breakers made without a user value slot that get an environment
 * later (fgl_set_env). */
enum { FGL_MODULE_SINKS = 5, FGL_MODULE_ENVS = 6 };
typedef struct fgl_module {
    fgl_side list; /* sentinel of a circular list of open shared breakers; only prev/next are used */
    uint64_t next_serial;
    fg_allocator alloc; /* the Lua state's allocator */
    uint64_t stats_visited; /* breakers stats() has walked (shared ones; a debug counter) */
    uint64_t sides;         /* side structures allocated and not yet freed (a debug counter) */
    uint64_t family_closes; /* families closed so far (fam:close or __gc): prometheus() retries a
                             * scrape during which one moved from open to the closed totals */
    uint32_t shared_held;   /* Lua random functions of shared breakers running now: the engine
                             * holds their blocks' locks (fgl_random; fgl_refuse_shared) */
} fgl_module;

/* Raises unless m->shared_held is 0. A shared breaker's random function
 * runs while the engine holds that breaker's lock, which the other handles
 * on its block and the other processes wait for: a shared block used from
 * there (another handle on it, prometheus() or a shared family's totals
 * reading it, a new handle attaching to it) would wait for the lock this
 * thread holds, for good; and another shared block's lock taken there could
 * deadlock with a process doing the opposite. So from a shared breaker's
 * random function no shared breaker or family is used. */
void fgl_refuse_shared(lua_State *L, const fgl_module *m);

/* What tells a breaker (fgl_class_mark) or a family (fgl_family_mark) from
 * any other value. Its class (fluxgate.lua, family.lua) holds the mark as a
 * lightuserdata at [1], which the Lua code checks; its memory holds the tag
 * fgl_tag(its address, mark), which the C functions check (fgl_to_marked),
 * set when the userdata is made, before it can be seen. A tag is read with
 * no metatable or table access (on Lua 5.4 reading the class mark was a
 * fifth of acquire + release), and only C code writes a userdata's memory:
 * another userdata holds its own address xor a mark of this module only if
 * C code put it there (debug.setmetatable cannot make anything a breaker).
 * A breaker class also holds the breaker's name under "__breaker_name" and
 * its Lua clock, if any, under "__clock". */
extern const char fgl_class_mark;

static inline uintptr_t fgl_tag(const void *u, const void *mark) { return (uintptr_t)u ^ (uintptr_t)mark; }

/* The full userdata at idx when it is an fgl_breaker (or begins with one:
 * a family) tagged with `mark`, else NULL; raises nothing. */
static inline void *fgl_to_marked(lua_State *L, int idx, const void *mark) {
    if (lua_type(L, idx) != LUA_TUSERDATA || fgl_rawlen(L, idx) < sizeof(fgl_breaker)) return NULL;
    fgl_breaker *b = lua_touserdata(L, idx);
    return b->tag == fgl_tag(b, mark) ? b : NULL;
}

/* ---- helpers (fluxgate_core.c) ------------------------------------------- */

/* The Lua state's own allocator, so the engine's memory is the state's. */
fg_allocator fgl_allocator(lua_State *L);
void fgl_push_u64(lua_State *L, uint64_t v);
/* Upvalue 1 of every breaker function: the module state. */
#define FGL_MODULE_UPVALUE lua_upvalueindex(1)

/* ---- compiling (fluxgate_policy.c) ---------------------------------------- */

int fgl_policy_gc(lua_State *L);
int fgl_report_gc(lua_State *L);
fgl_policy *fgl_check_policy(lua_State *L, int idx);
extern const luaL_Reg fgl_policy_funcs[];

/* ---- breakers (fluxgate_breaker.c) ---------------------------------------- */

/* The breaker at idx or NULL, checking its tag (fgl_to_marked); raises nothing. */
fgl_breaker *fgl_to_breaker(lua_State *L, int idx);
/* The open breaker at idx; raises a misuse error naming method `fname`
 * otherwise (not a breaker: a hint to use `cb:fname(...)`; closed; busy in
 * one of its own callbacks). */
fgl_breaker *fgl_check_breaker(lua_State *L, int idx, const char *fname);
/* new_breaker, close, env, pending, set_class, listen */
extern const luaL_Reg fgl_breaker_funcs[];

/* ---- calling Lua from the engine (fluxgate_callback.c) --------------------- */

/* Calls the Lua clock of a breaker or family at self_idx (its class's
 * "__clock") into head->now: 1, or 0 when it has none; raises when the
 * clock fails or returns a non-number. */
int fgl_head_read_clock(lua_State *L, fgl_head *head, int self_idx);
/* The same for a breaker, raising when its clock closed it. */
void fgl_read_clock(lua_State *L, fgl_breaker *b, int self_idx);
/* Brackets an engine call that may call Lua callbacks: enter prepares the
 * stack (everything that may raise happens here), leave parks a callback
 * error in the environment and restores the stack. c lives on the caller's
 * C stack. */
void fgl_enter(lua_State *L, fgl_breaker *b, int self_idx, fgl_call *c);
void fgl_leave(lua_State *L, fgl_breaker *b, fgl_call *c);
/* Adds the C listener that queues transitions for the Lua side to b's
 * engine breaker, once; 0, or -1 out of memory. */
int fgl_add_engine_listener(fgl_breaker *b);
/* Resolution of Custom() names (at creation, and by reload): the env holds
 * name, predicate pairs from FGL_ENV_FIRST_CUSTOM on; the slots userdata
 * gets one entry per name the engine asks for. An fg_custom_resolver. */
typedef struct fgl_resolver {
    lua_State *L;
    fgl_breaker *b;
    int env_index;
    fgl_custom_slot *slots;
    int count;
    int used;
} fgl_resolver;
int fgl_resolve(void *ud, const char *name, fg_custom *out);

/* ---- what breakers and families share at creation (fluxgate_breaker.c) ----- */

/* What breakers and families share at creation (new_breaker, family_new;
 * their opts table, checked by fluxgate.lua / family.lua, holds now,
 * random, seed_hi/seed_lo, clock_kind, custom and listeners). */
typedef struct fgl_callback_opts {
    int has_now;       /* the Lua clock's first reading is `now` */
    double now;
    int has_random;    /* opts.random is a function */
    int ncustom;       /* Custom() name, predicate pairs in opts.custom */
    int has_listeners; /* opts.listeners is an array */
} fgl_callback_opts;
/* Reads the opts table at index opts into *cb and the seed and clock kind
 * into *o; the stack is as it was. */
void fgl_read_callback_opts(lua_State *L, int opts, fgl_callback_opts *cb, fg_breaker_options *o);
/* With the new (still closed) userdata of host on top: makes its
 * environment table (random, listeners, the Custom() pairs and the slots
 * userdata that keeps r->slots alive) when it needs one, left above it, and
 * fills *r for fgl_resolve. Raises for a Custom() name that is not a string
 * or a predicate that is not a function (the userdata's __gc is safe). */
void fgl_make_env(lua_State *L, int opts, const fgl_callback_opts *cb, fgl_breaker *host, fgl_resolver *r);
/* Pushes the environment table of the object b at idx (FGL_HAS_ENV set):
 * its user value, or (FGL_ENV_ASIDE) its entry in the module's table of
 * environments, which needs the module upvalue. */
void fgl_get_env(lua_State *L, int idx, const fgl_breaker *b);
/* Pops the table on top and makes it the environment of the object b at
 * idx (idx > 0): its user value when the userdata has a slot for one, else
 * (Lua 5.4, a breaker made without one: plain breakers save its 16 bytes)
 * an entry in the module's weak-keyed table of environments, which needs
 * the module upvalue and may raise (memory). */
void fgl_set_env(lua_State *L, int idx, fgl_breaker *b);
/* env(self, true) for an object (at index 1) that has no environment yet:
 * makes an empty one (random, error and listeners false), gives it to the
 * object and leaves it on the stack. */
void fgl_push_new_env(lua_State *L, fgl_breaker *host);
/* The engine clock of a Lua clock: host->head.now (ud is the fgl_head). */
double fgl_clock(void *ud);
/* Sets the engine callbacks of *o: the Lua clock, random (fgl_random on
 * host) and Custom() resolution through *r. */
void fgl_set_callbacks(fg_breaker_options *o, const fgl_callback_opts *cb, fgl_breaker *host, fgl_resolver *r);
/* Closes the just-made object at self with `close` and returns 2: nil,
 * "out of memory" (its engine listener could not be added). */
int fgl_close_out_of_memory(lua_State *L, lua_CFunction close, int self);
/* Marks host as calling Lua when it does, and pushes the object at self
 * and whether it resolved any Custom() name (new_breaker's and
 * family_new's first two results). */
void fgl_push_made(lua_State *L, int self, const fgl_callback_opts *cb, fgl_breaker *host, const fgl_resolver *r);

/* ---- reload (fluxgate_reload.c) ------------------------------------------- */

extern const luaL_Reg fgl_reload_funcs[];

/* What fluxgate_family.c shares with breakers: the engine callbacks that
 * call Lua (their ud is the fgl_breaker whose `call` is set by fgl_enter;
 * for a family, its callback host), the Custom() resolution above, and the
 * per-name totals of closed breakers and families (Prometheus counters
 * never decrease). */
double fgl_random(void *ud);
void fgl_add_totals(lua_State *L, const char *name, const fg_counters *c);

/* ---- families (fluxgate_family*.c; their shared parts: fluxgate_family.h) -- */

/* Registered with the module upvalue into the module table. */
extern const luaL_Reg fgl_family_funcs[];
void fgl_family_register(lua_State *L, int module_idx, int table_idx);

/* library_path() -> the file this core.so was loaded from, or nil
 * (fluxgate_where.c; LuaJIT's FFI path loads it). */
int fgl_library_path(lua_State *L);
/* 1, and a message, when the file this core.so was loaded from has been
 * replaced on disk since (fluxgate_where.c says why that matters); else 0. */
int fgl_library_replaced(char *msg, size_t cap);

/* ---- names (fluxgate_name.c) ----------------------------------------------- */

/* NULL when s[0..n) may name a breaker (valid UTF-8, no NUL); else what is
 * wrong, with *offset the 1-based position of the first bad byte. */
const char *fgl_name_problem(const char *s, size_t n, size_t *offset);
/* Whether the policy's index-th definition can make a breaker or family:
 * it exists and its name can be exported (UTF-8, no NUL). Returns 0 when it
 * can; otherwise pushes nil and the message and returns 2, the caller's
 * number of results. */
int fgl_definition_problem(lua_State *L, const fg_policy *policy, lua_Integer index);

/* ---- outcomes (fluxgate_outcome.c): the outcome rules of the C paths ------- */

/* The status a Lua value at idx gives an outcome: 1 and *out when it is a
 * number in the int64 range the Lua side accepts too. */
int fgl_status_number(lua_State *L, int idx, int64_t *out);
/* The status of a result value: a number's own value when numbers_count,
 * else a table's `status` field, read so that it cannot raise. */
void fgl_result_status(lua_State *L, int idx, int numbers_count, fg_outcome *o);
/* An error value's type, message and status (SPEC 7), read so that nothing
 * can raise; strings it points to stay on the stack above idx until the
 * caller restores it. */
void fgl_error_fields(lua_State *L, int idx, fg_outcome *o);
/* The outcome of a protected call: ok is whether it returned; its results
 * (or the error it raised) start at index first. Returns the index of the
 * error value (raised, or the e of `nil, e`), or 0 for a result; fills *o.
 * The one place of the "did the call fail" rule on the C paths. */
int fgl_outcome_at(lua_State *L, int ok, int first, fg_outcome *o);
/* The outcome table Custom() predicates receive, for *o and the Lua value at
 * value_idx (0: none). May raise (memory): call under lua_pcall. */
int fgl_build_outcome(lua_State *L);
extern const luaL_Reg fgl_outcome_funcs[];

/* ---- the call protocol (fluxgate_call.c) ----------------------------------- */

extern const luaL_Reg fgl_call_funcs[];

/* The pieces of the call protocol that breakers (fluxgate_call.c) and
 * families (fluxgate_family_call.c) share: one rule, one place. They are
 * static inline because they sit on the call path of both. */

/* The module's helpers (fluxgate.lua gives them to core.init, family.lua
 * sets the family drain), in the module state's user value. */
enum { FGL_HELPER_REJECTION = 1, FGL_HELPER_DRAIN = 2, FGL_HELPER_FAMILY_DRAIN = 4 };

/* Pushes the module helper `which` (upvalue 1 is the module state). */
static inline void fgl_push_helper(lua_State *L, int which) {
    fgl_getuservalue(L, FGL_MODULE_UPVALUE);
    lua_rawgeti(L, -1, which);
    lua_remove(L, -2);
}

/* A ticket as Lua values: key, generation, started_at, where key = state <<
 * 49 | (slot + 1) << 32 | slot_seq: below 2^52, so exact in a LuaJIT double
 * as well (a slot is -1 or below the 65,536 half-open calls a policy may
 * allow). */
static inline void fgl_push_ticket(lua_State *L, const fg_ticket *t) {
    uint64_t key = (uint64_t)t->state << 49 | (uint64_t)(uint32_t)(t->slot + 1) << 32 | t->slot_seq;
    lua_pushnumber(L, (lua_Number)key);
    lua_pushnumber(L, (lua_Number)t->generation);
    lua_pushnumber(L, t->started_at);
}

/* The admitted ticket of a key fgl_push_ticket made (not checked: the caller
 * either pushed it itself or has checked it). */
static inline void fgl_ticket_from_key(uint64_t key, uint64_t generation, double started_at, fg_ticket *t) {
    memset(t, 0, sizeof *t);
    t->admitted = 1;
    t->state = (fg_state)(key >> 49);
    t->slot = (int32_t)((key >> 32) & 0x1ffff) - 1;
    t->slot_seq = (uint32_t)key;
    t->generation = generation;
    t->started_at = started_at;
    t->retry_after = -1.0;
}

/* Reads a ticket fgl_push_ticket pushed, from idx..idx+2, checked (the
 * LuaJIT path hands them back from Lua): raises "not a ticket". */
static inline void fgl_check_ticket(lua_State *L, int idx, fg_ticket *t) {
    lua_Number k = luaL_checknumber(L, idx);
    luaL_argcheck(L, k >= 0 && k < 4503599627370496.0, idx, "not a ticket");
    uint64_t key = (uint64_t)k;
    luaL_argcheck(L, (key >> 49) < FG_STATE_COUNT, idx, "not a ticket");
    uint64_t generation = (uint64_t)luaL_checknumber(L, idx + 1);
    fgl_ticket_from_key(key, generation, luaL_checknumber(L, idx + 2), t);
}

/* Pushes the rejection value of ticket *t (not admitted): the module's
 * rejection helper applied to the name its class holds under name_field
 * ("__breaker_name", "__family_name"), the state and retry_after. */
static inline void fgl_push_rejection(lua_State *L, int self_idx, const char *name_field, const fg_ticket *t) {
    fgl_push_helper(L, FGL_HELPER_REJECTION);
    lua_getmetatable(L, self_idx);
    lua_getfield(L, -1, name_field);
    lua_remove(L, -2);
    lua_pushstring(L, fg_state_name(t->state));
    if (t->retry_after >= 0) lua_pushnumber(L, t->retry_after);
    else lua_pushnil(L);
    lua_call(L, 3, 1);
}

/* What acquire hands out on the classic API (breakers' and families'
 * tokens) starts with this: the tag fgl_tag(its address, its kind's mark),
 * which tells it from any other value as a breaker's tag does (see
 * fgl_class_mark; a token needs no metatable: setting one and checking it
 * were a fifth of acquire + release on Lua 5.4), and its owner's serial.
 * Its size tells the kinds apart too. */
typedef struct fgl_token_id {
    uintptr_t tag;
    uint64_t serial;
} fgl_token_id;

/* A new token (a full userdata of `size` bytes, no user value, no
 * metatable: it does not keep its owner alive) of the kind `mark` for the
 * owner with `serial`, pushed; the rest of its memory is the caller's. */
static inline void *fgl_new_token(lua_State *L, size_t size, const void *mark, uint64_t serial) {
    fgl_token_id *k = fgl_newuserdata(L, size, 0);
    k->tag = fgl_tag(k, mark);
    k->serial = serial;
    return k;
}

/* release(self, token, ok, value [, duration]) after lua_settop(L, 5):
 * checks the token (fgl_new_token's of this size and kind, holding `serial`)
 * and the duration (*duration, -1 when nil: since admission). Returns the
 * token; raises a misuse error naming the `owner` ("breaker", "family")
 * otherwise. */
static inline void *fgl_check_release(lua_State *L, const char *owner, size_t size, const void *mark,
                                      uint64_t serial, double *duration) {
    fgl_token_id *k = lua_type(L, 2) == LUA_TUSERDATA && fgl_rawlen(L, 2) == size ? lua_touserdata(L, 2) : NULL;
    if (k == NULL || k->tag != fgl_tag(k, mark) || k->serial != serial)
        luaL_error(L, "bad argument #1 to 'release' (a token from this %s's acquire expected, got %s)", owner,
                   luaL_typename(L, 2));
    *duration = -1.0;
    if (!lua_isnil(L, 5)) {
        if (lua_type(L, 5) != LUA_TNUMBER)
            luaL_error(L, "bad argument #4 to 'release' (number expected, got %s)", luaL_typename(L, 5));
        *duration = lua_tonumber(L, 5);
    }
    return k;
}

/* The outcome release(self, token, ok, value) reports: value is a result
 * when ok is true, else an error. */
static inline void fgl_release_outcome(lua_State *L, fg_outcome *o) {
    memset(o, 0, sizeof *o);
    if (lua_toboolean(L, 3)) fgl_result_status(L, 4, 1, o);
    else fgl_error_fields(L, 4, o);
}

#if LUA_VERSION_NUM >= 504
/* Raises the misuse error of argument argn of method fname unless the value
 * at idx is callable (a function, or has __call). */
static inline void fgl_check_callable(lua_State *L, int idx, int argn, const char *fname) {
    if (lua_type(L, idx) == LUA_TFUNCTION) return;
    if (luaL_getmetafield(L, idx, "__call")) {
        lua_pop(L, 1);
        return;
    }
    luaL_error(L, "bad argument #%d to '%s' (function expected, got %s)", argn, fname, luaL_typename(L, idx));
}

static inline int fgl_return_k(lua_State *L, int status, lua_KContext nresults) {
    (void)L;
    (void)status;
    return (int)nresults;
}

/* Before a C method (acquire, release) returns its `nresults` top values:
 * runs the module helper `drain` (FGL_HELPER_DRAIN, FGL_HELPER_FAMILY_DRAIN)
 * on self when transitions are pending (listeners may yield). */
static inline int fgl_drain_and_return(lua_State *L, fgl_head *head, int drain, int self_idx, int nresults) {
    if (!head->pending) return nresults;
    head->pending = 0;
    fgl_push_helper(L, drain);
    lua_pushvalue(L, self_idx);
    lua_callk(L, 1, 0, nresults, fgl_return_k);
    return nresults;
}
#else
/* LuaJIT: the Lua side drains (fluxgate.lua and family.lua read head.pending). */
static inline int fgl_drain_and_return(lua_State *L, fgl_head *head, int drain, int self_idx, int nresults) {
    (void)L;
    (void)head;
    (void)drain;
    (void)self_idx;
    return nresults;
}
#endif

/* ---- registry metatables (fluxgate_core.c) ------------------------------------ */

/* The metatable registered as `name` for the module's internal objects:
 * made with __gc = gc (unless NULL) and a locked __metatable, or, when this
 * Lua state already has one (another copy of core.so), left as it is. */
void fgl_registry_metatable(lua_State *L, const char *name, lua_CFunction gc);

/* ---- shared maps (fluxgate_shared.c) ------------------------------------------ */

struct fg_shm;
/* The open map at idx, or NULL. */
struct fg_shm *fgl_to_shm(lua_State *L, int idx);
/* Registers the map's metatable. */
void fgl_shared_open(lua_State *L);
/* shared_map, shared_map_usage (upvalue 1: the module state) */
extern const luaL_Reg fgl_shared_funcs[];

/* ---- shared families (fluxgate_shared_family.c) ------------------------------- */

struct fg_shared_family;
/* opts.family of new_breaker's options table at index opts (checked, with
 * opts.key a string), or NULL when there is none. May raise. */
struct fg_shared_family *fgl_opt_shared_family(lua_State *L, int opts);
/* Places handle on the block of opts.key in f (made on first use):
 * *status FG_SHM_CREATED or FG_SHM_ATTACHED. NULL and err on failure. */
fg_breaker *fgl_place_family_key(lua_State *L, int opts, struct fg_shared_family *f, fg_policy *policy,
                                 size_t index, const fg_breaker_options *o, void *handle, int *status,
                                 char *err, size_t cap);
/* Registers the family's metatable. */
void fgl_shared_family_open_mt(lua_State *L);
/* shared_family_open, _stats, _keys, _size (upvalue 1: the module state) */
extern const luaL_Reg fgl_shared_family_funcs[];

/* ---- counts as the Prometheus groups read them (fluxgate_family_stats.c) -------- */

/* Pushes an array of the counters in the positions the Prometheus groups use
 * (fluxgate_query.c): 1 success, 2 failure, 3 ignored, 4 rejected, 5 + old *
 * FG_STATE_COUNT + new the transitions (sparse: only those that happened). */
void fgl_push_counts(lua_State *L, const fg_counters *c, int sparse);
/* Pushes { [state + 1] = states[state] } for every state. */
void fgl_push_state_counts(lua_State *L, const uint64_t *states);

/* ---- counter sinks (fluxgate_sink.c) -------------------------------------- */

/* Registers the sink box's metatable. */
void fgl_sink_open(lua_State *L);
/* The counter sink of breakers named `name` in this Lua state, made on
 * first use and kept for the module state's life. May raise (memory). */
fg_sink *fgl_sink_for(lua_State *L, const char *name);
/* Adds every name's sink to stats()'s table at by_name (O(names)). */
void fgl_sink_stats(lua_State *L, int by_name);

/* ---- queries (fluxgate_query.c) ------------------------------------------- */

/* Adds counters (and, unless NULL, breakers per state) to by_name[name],
 * stats()'s shape; nothing when everything is 0 and states is NULL. */
void fgl_add_group(lua_State *L, int by_name, const char *name, const fg_counters *c,
                   const uint64_t *states);

extern const luaL_Reg fgl_query_funcs[];
/* A transition as drain hands it to Lua: a table { old_state, new_state,
 * timestamp, reason, sequence, metrics } with room for extra_fields more. */
void fgl_push_signal(lua_State *L, const fgl_event *e, int extra_fields);
/* drain's second result: the first callback error parked in the
 * environment of host (the object at index 1) since the last drain, or
 * nil; the environment's slot is cleared. */
void fgl_push_parked_error(lua_State *L, fgl_breaker *host);
/* A metric as info() and signals show it; a whole fg_info as info() does. */
void fgl_push_metric(lua_State *L, const fg_metric *m);
void fgl_push_info(lua_State *L, const fg_info *info);

/* ---- frames (fluxgate_frames.c): running, in_frame (delivery.lua's drain) -- */

extern const luaL_Reg fgl_frame_funcs[];

/* ---- snapshots (fluxgate_snapshot.c): snapshot, restore -------------------- */

extern const luaL_Reg fgl_snapshot_funcs[];

#endif /* FLUXGATE_LUA_H */
