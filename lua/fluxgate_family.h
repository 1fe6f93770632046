/*
 * fluxgate_family.h -- what the C files of Lua families share
 * (fluxgate_family.c: making, closing, queries, listeners;
 * fluxgate_family_stats.c: listing keys, aggregates for stats and
 * Prometheus; fluxgate_family_call.c: the call protocol by key;
 * fluxgate_family_reload.c: fam:reload). A family is the
 * engine's fg_family (include/fluxgate.h, "families") in one userdata;
 * lua/fluxgate/family.lua is its Lua face.
 */
#ifndef FLUXGATE_FAMILY_H
#define FLUXGATE_FAMILY_H

#include "fluxgate_lua.h"

/* A queued transition of one key; the key's bytes are keys[key_at ..
 * key_at + key_len) of the family's key buffer. */
typedef struct fgl_fevent {
    fgl_event e;
    size_t key_at;
    size_t key_len;
} fgl_fevent;

/* A family's userdata. host comes first: host.head is what LuaJIT's FFI
 * reads (now, pending, flags, serial; host.head.engine stays NULL, the
 * engine's family is `family`, at FGL_FAMILY_OFFSET for the FFI), and
 * host is the owner the engine's Lua callbacks (random, Custom()) see,
 * exactly as for a breaker (fgl_enter/fgl_leave set host.call). The keys'
 * memory is the engine's, outside this userdata: the collector does not
 * see it; `bytes` counts it (the family allocates through fgl_count_alloc). */
typedef struct fgl_family {
    fgl_breaker host;
    fg_family *family;       /* NULL once closed */
    fgl_fevent *events;      /* queued transitions (Lua's allocator), in order */
    uint32_t event_count, event_cap;
    char *keys;              /* the queued transitions' keys */
    size_t keys_len, keys_cap;
    uint32_t lost;           /* transitions the queue had no memory for */
    int per_key;             /* metrics = "per_key" */
    int64_t bytes;           /* the engine's memory for this family now */
    fg_counters exported;    /* what earlier names exported of the totals (a
                                reload under another name leaves them there:
                                counters never decrease); the current name
                                exports the rest (fgl_family_counters) */
    fg_allocator lua;        /* the Lua state's allocator */
} fgl_family;

/* The FFI path's entry points (fluxgate_family_ffi.c), declared once: as C
 * here and, stringized, in core.family_cdef() for ffi.cdef. */
#define FGL_FAMILY_FFI_FUNCTIONS                                                                   \
    int fgl_family_ffi_acquire(void *family_ud, const char *key, size_t key_len, int have_now,     \
                               double now, fg_family_ticket *ticket, char *err, size_t err_cap);   \
    int fgl_family_ffi_record(void *family_ud, const fg_family_ticket *ticket, int outcome_class, \
                              const fg_outcome *outcome, double duration, int have_now, double now);
FGL_FAMILY_FFI_FUNCTIONS

/* A family's memory holds fgl_tag(its address, this address) (see
 * fgl_class_mark); family.lua tells families by their class (__is_family). */
extern const char fgl_family_mark;

/* The family at idx (its tag checked) or NULL; raises nothing. */
fgl_family *fgl_to_family(lua_State *L, int idx);
/* The open family at idx; raises a misuse error naming `fname` otherwise. */
fgl_family *fgl_check_family(lua_State *L, int idx, const char *fname);
/* The key at idx as bytes: a string, or an integer as its decimal text
 * (written into buf, at least 32 bytes); raises a misuse error naming
 * method fname for anything else. */
const char *fgl_family_key(lua_State *L, int idx, char *buf, size_t *len, const char *fname);
/* Reads the family's Lua clock into host.head.now when it has one. */
void fgl_family_read_clock(lua_State *L, fgl_family *f, int self_idx);

/* Grows the array *p of *cap units to hold need units through the Lua
 * state's allocator (which raises nothing): 0, or -1 (out of memory; *p
 * and *cap unchanged). Not counted in `bytes` (the family's own queues). */
int fgl_family_grow(fgl_family *f, void **p, size_t *cap, size_t need, size_t unit);

/* Registered by fgl_family_register with the module upvalue, as
 * fgl_family_funcs: family_keys, family_stats, family_key_stats
 * (fluxgate_family_stats.c). */
extern const luaL_Reg fgl_family_stats_funcs[];
/* family_reload (fluxgate_family_reload.c), registered the same way. */
extern const luaL_Reg fgl_family_reload_funcs[];

/* The family's totals as its current name exports them: the engine's
 * totals less what earlier names kept. */
void fgl_family_counters(const fgl_family *f, const fg_family_totals *t, fg_counters *out);

#endif /* FLUXGATE_FAMILY_H */
