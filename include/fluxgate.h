/*
 * fluxgate.h -- the public C API of fluxgate-c, a circuit-breaker policy engine.
 *
 * Policies are written in a small language (see README.md), compiled once into
 * an immutable fg_policy, and instantiated as any number of fg_breaker values.
 * Every function here is prefixed fg_; there is no global mutable state, so two
 * users of the library in one process never interfere.
 *
 * Ownership in one sentence: whatever a function returns through a pointer that
 * it allocated is freed by the matching fg_*_free function, and every allocation
 * goes through the fg_allocator given at creation (or realloc/free when none is).
 *
 * NULL: the compile and load functions, the report readers, the fg_*_free
 * functions, creation (a NULL policy or name is an error in err), an err
 * buffer (NULL or a capacity of 0: no message) and fg_breaker_restore's data
 * take NULL. Every other pointer -- a breaker, family or sink, a ticket, an
 * outcome, a struct to fill, a key with key_len > 0 -- must be valid: the
 * call protocol is the hot path and checks nothing, as the C library's
 * functions do not.
 *
 * The header is deliberately FFI-friendly (LuaJIT's ffi.cdef reads the part
 * between the FG_FFI_BEGIN/FG_FFI_END markers): plain structs, fixed-size
 * integers, no varargs, no macros needed to call the hot path. The FG_API
 * marks are the one exception: the build strips them from the FFI text.
 */
#ifndef FLUXGATE_H
#define FLUXGATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* FG_API marks what the library exports: it is built with
 * -fvisibility=hidden, so libfluxgate.so (and the Lua module, which links
 * the engine in) exports exactly the functions declared here with it, and
 * nothing of its internals. Define FG_API yourself before including this
 * header to override it (for example as empty). */
#ifndef FG_API
#if defined(__GNUC__) || defined(__clang__)
#define FG_API __attribute__((visibility("default")))
#else
#define FG_API
#endif
#endif

#define FG_VERSION_MAJOR 0
#define FG_VERSION_MINOR 1
#define FG_VERSION_PATCH 0
#define FG_VERSION "0.1.0"

/* The breaker states, declared once: the name table is expanded from this
 * list; the enum below is spelled out (LuaJIT's ffi.cdef cannot expand
 * macros) and src/fg_state.c asserts at compile time that it matches. */
#define FG_STATE_LIST(X)                                                       \
    X(CLOSED, "closed")                                                        \
    X(OPEN, "open")                                                            \
    X(HALF_OPEN, "half_open")                                                  \
    X(METRICS_ONLY, "metrics_only")                                            \
    X(DISABLED, "disabled")                                                    \
    X(FORCED_OPEN, "forced_open")

/* FG_FFI_BEGIN */
typedef enum fg_state {
    FG_STATE_CLOSED,
    FG_STATE_OPEN,
    FG_STATE_HALF_OPEN,
    FG_STATE_METRICS_ONLY,
    FG_STATE_DISABLED,
    FG_STATE_FORCED_OPEN,
    FG_STATE_COUNT
} fg_state;

/* Maximum number of distinct SlowRate thresholds in one tripper (a located
 * compile error beyond it). Fixed so that a metric is a plain struct. */
enum { FG_MAX_SLOW_THRESHOLDS = 8 };

/* ---- allocation ------------------------------------------------------- */

/* lua_Alloc semantics: nsize == 0 frees ptr and returns NULL; otherwise it
 * (re)allocates ptr from osize to nsize bytes and returns NULL on failure,
 * leaving ptr untouched. osize is the block's size when ptr != NULL. Blocks
 * must be aligned for pointers, doubles and 64-bit integers (8 bytes), as
 * Lua's and LuaJIT's allocators are. */
typedef void *(*fg_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);
typedef struct fg_allocator {
    fg_alloc_fn fn; /* NULL: the C library's realloc/free */
    void *ud;
} fg_allocator;

/* ---- diagnostics ------------------------------------------------------ */

typedef enum fg_severity { FG_SEVERITY_ERROR, FG_SEVERITY_WARNING } fg_severity;

/* One located message. Strings are owned by the report that holds it. */
typedef struct fg_diagnostic {
    fg_severity severity;
    const char *chunk;       /* file name, or the chunk name given to compile */
    int line;                /* 1-based; 0 when the message has no position */
    int column;              /* 1-based, in bytes */
    const char *message;     /* e.g. "unknown tripper 'FailureRat' (did you mean 'FailureRate'?)" */
    const char *source_line; /* the text of that line without its newline, or "" */
} fg_diagnostic;

/* Every error and warning of one compilation, in source order. */
typedef struct fg_report fg_report;

FG_API size_t fg_report_count(const fg_report *report);
FG_API size_t fg_report_error_count(const fg_report *report);
/* How many errors (FG_SEVERITY_ERROR) or warnings the compilation found. A
 * report keeps at most 100 of each (fg_report_count and fg_report_error_count
 * count those); the rest are only counted here, so that a tool can say
 * "1000 errors, first 100 shown". */
FG_API size_t fg_report_found(const fg_report *report, fg_severity severity);
FG_API const fg_diagnostic *fg_report_get(const fg_report *report, size_t index);
/* Formats every diagnostic as "chunk:line:col: error: message\n  source\n  ^\n"
 * into buf (always NUL-terminated when cap > 0) and returns the length the
 * whole text needs, excluding the NUL, like snprintf. */
FG_API size_t fg_report_format(const fg_report *report, char *buf, size_t cap);
/* The same for one diagnostic; with_source = 0 leaves out the source and caret lines. */
FG_API size_t fg_diagnostic_format(const fg_diagnostic *d, int with_source, char *buf, size_t cap);
FG_API void fg_report_free(fg_report *report);

/* ---- compiling policies ----------------------------------------------- */

/* An immutable compiled policy: breaker definitions that share programs.
 * Thread-safe to share; reference-counted so that breakers made from it keep
 * it alive after the creator frees its own reference. */
typedef struct fg_policy fg_policy;

/* Compiles a policy file's text. chunk names it in diagnostics (NULL: "policy").
 * Returns NULL on errors. When report is not NULL, *report receives every
 * diagnostic (errors and warnings, also on success); free it with fg_report_free.
 * *report is NULL only when not even the report could be allocated. */
FG_API fg_policy *fg_policy_compile(const char *source, size_t length, const char *chunk,
                                    const fg_allocator *alloc, fg_report **report);

/* Reads and compiles a file; the chunk name is the path as given. A file that
 * cannot be read is an error diagnostic naming the path. */
FG_API fg_policy *fg_policy_load(const char *path, const fg_allocator *alloc, fg_report **report);

/* Single expressions, one per component; NULL fields take fluxgate's defaults.
 * Each field is compiled as its own chunk named after the field ("tripper",
 * "max_half_open_calls", ...), so errors read "tripper:1:13: error: ...".
 * max_half_open_calls and half_open_lease are expressions too ("10", "30s"). */
typedef struct fg_expressions {
    const char *window;
    const char *tracker;
    const char *tripper;
    const char *retry;
    const char *permit;
    const char *max_half_open_calls;
    const char *half_open_lease;
} fg_expressions;

/* A policy holding exactly one breaker definition, named name (NULL:
 * "breaker"; "" is an error, "name:1:1: error: breaker name is empty"). */
FG_API fg_policy *fg_policy_from_expressions(const char *name, const fg_expressions *exprs,
                                             const fg_allocator *alloc, fg_report **report);

FG_API size_t fg_policy_breaker_count(const fg_policy *policy);
/* The name of the index-th breaker, in file order; NULL when out of range. */
FG_API const char *fg_policy_breaker_name(const fg_policy *policy, size_t index);
/* The index of a breaker by name, or -1. */
FG_API long fg_policy_find_breaker(const fg_policy *policy, const char *name);
/* A readable listing of the index-th breaker: every component with the source
 * text it came from, and the bytecode of its tracker and tripper programs.
 * snprintf-style: returns the length needed, excluding the NUL. */
FG_API size_t fg_policy_disassemble(const fg_policy *policy, size_t index, char *buf, size_t cap);
FG_API void fg_policy_retain(fg_policy *policy);
/* Drops one reference; the last one frees the policy. */
FG_API void fg_policy_free(fg_policy *policy);

/* ---- outcomes and custom trackers -------------------------------------- */

/* A completed call. Strings need not be NUL-terminated; they are read only
 * during the call that receives the outcome. */
typedef struct fg_outcome {
    int is_error;        /* 0: the call returned a result; 1: it failed with an error */
    int has_status;      /* 1 when status is meaningful */
    int64_t status;      /* e.g. an HTTP status */
    const char *type;    /* error type name, or NULL */
    size_t type_len;
    const char *message; /* error message, or NULL */
    size_t message_len;
    void *user;          /* handed unchanged to Custom() predicates */
} fg_outcome;

/* What the tracker makes of an outcome (fg_breaker_classify) and what
 * fg_breaker_record is told to record. The values are part of the ABI and
 * never change: callers that predate the enum, the Lua binding and LuaJIT's
 * FFI pass and receive the plain numbers 1, 0 and -1. */
typedef enum fg_outcome_class {
    FG_OUTCOME_UNTRACKED = -1, /* an error the tracker does not count: never recorded */
    FG_OUTCOME_SUCCESS = 0,    /* a result, or an error the tracker does not call a failure */
    FG_OUTCOME_FAILURE = 1     /* a tracked failure */
} fg_outcome_class;

/* A Custom("name") predicate: returns 1 (matches), 0 (does not), or -1 when it
 * failed; a failed predicate counts as "does not match". (A match result, not
 * an fg_outcome_class: the tracker combines predicates into the class.) */
typedef int (*fg_custom_fn)(void *ud, const fg_outcome *outcome);
typedef struct fg_custom {
    fg_custom_fn fn;
    void *ud;
} fg_custom;

/* Resolves Custom() names when a breaker is made: fills *out and returns 1, or
 * returns 0 when the name is unknown (the breaker is then not made). */
typedef int (*fg_custom_resolver)(void *ud, const char *name, fg_custom *out);

/* ---- breakers ---------------------------------------------------------- */

typedef struct fg_breaker fg_breaker;

/* Time in seconds on any fixed origin. The breaker's time starts at its
 * first reading after it is made; a later reading earlier than the previous
 * one rebases the breaker (its time stands still across the jump, remaining
 * cooldowns, leases and window ages are kept); NaN and infinities are
 * ignored. Called before the breaker's lock is taken, never under it. */
typedef double (*fg_clock_fn)(void *ud);
/* A uniform draw in [0, 1). */
typedef double (*fg_random_fn)(void *ud);

/* The window's metric. slow_counts[i] counts calls with duration >= thresholds[i]. */
typedef struct fg_metric {
    uint64_t total_count;
    uint64_t failure_count;
    double total_duration;
    uint32_t threshold_count;
    double thresholds[FG_MAX_SLOW_THRESHOLDS];
    uint64_t slow_counts[FG_MAX_SLOW_THRESHOLDS];
} fg_metric;

/* Handed to listeners after the breaker's lock is released. Pointers are valid
 * during the callback only. */
typedef struct fg_transition {
    const char *breaker;
    fg_state old_state;
    fg_state new_state;
    double timestamp;    /* the breaker's clock */
    const char *reason;  /* source text of the rule that fired, or the command ("reset()") */
    fg_metric metric;    /* the window just before it was cleared */
    uint64_t sequence;   /* 1, 2, ... per breaker: listeners see them in this order, each once */
    const char *key;     /* a family's key (any bytes, not NUL-terminated), or NULL */
    size_t key_len;
} fg_transition;

typedef void (*fg_listener_fn)(void *ud, const fg_transition *transition);

/* Which clock a breaker reads (SPEC section 10, "Clock choice"). AUTO picks
 * CLOCK_MONOTONIC_COARSE when its resolution is at most 1 % of the smallest
 * duration the definition compares against, CLOCK_MONOTONIC otherwise. An
 * fg_breaker_options.clock function makes it CUSTOM. fg_info reports the
 * clock in use (never AUTO). */
typedef enum fg_clock_kind {
    FG_CLOCK_AUTO,
    FG_CLOCK_PRECISE, /* CLOCK_MONOTONIC */
    FG_CLOCK_COARSE,  /* CLOCK_MONOTONIC_COARSE */
    FG_CLOCK_CUSTOM   /* the embedder's fg_clock_fn */
} fg_clock_kind;

/* Per-name aggregates that breakers feed as they run (see "counter sinks"
 * below). */
typedef struct fg_sink fg_sink;

typedef struct fg_breaker_options {
    fg_allocator alloc;          /* {NULL, NULL}: realloc/free */
    fg_clock_fn clock;           /* NULL: the monotonic clock clock_kind picks */
    void *clock_ud;
    fg_random_fn random;         /* NULL: the breaker's own PRNG */
    void *random_ud;
    int has_seed;                /* 1: seed the breaker's PRNG with seed */
    uint64_t seed;
    fg_custom_resolver resolve_custom; /* NULL: every Custom() name is unresolved */
    void *resolve_ud;
    fg_clock_kind clock_kind;    /* AUTO (0), PRECISE or COARSE; ignored when clock is set */
    fg_sink *sink;               /* NULL: none; else the breaker adds its counts to it (it
                                    takes a reference); ignored by families */
    int single_thread;           /* 1: the caller promises that one thread at a time uses
                                    the breaker and that no other process maps its block:
                                    the block's lock and admission counters are then
                                    written with plain stores, no atomic read-modify-write
                                    (the Lua binding's own breakers: one Lua state each) */
    int sink_only;               /* 1: the breaker counts only into its sink (none without
                                    one): its block keeps no counters of its own and is
                                    sizeof(counters) = 184 bytes smaller
                                    (fg_breaker_footprint_with), and fg_breaker_info
                                    reports the sink's totals -- every breaker's that
                                    counts into it. For many breakers counted by name
                                    (the Lua binding's: one sink per name) */
} fg_breaker_options;

/* Sets every field of *options to its default, the values above: realloc/free,
 * the monotonic clock FG_CLOCK_AUTO picks, the breaker's own PRNG seeded from
 * its address and the clock, no Custom() resolver, no sink. A breaker made
 * with such options behaves as one made with options NULL (or a zeroed
 * struct, which holds the same values). Use it, or FG_BREAKER_OPTIONS_INIT in
 * a declaration (after FG_FFI_END: a macro), before setting the fields you
 * need, so that fields added later keep their defaults. options must not be
 * NULL; nothing is allocated. */
FG_API void fg_breaker_options_init(fg_breaker_options *options);

/* Call counters since creation, as Prometheus exports them. */
typedef struct fg_counters {
    uint64_t success;
    uint64_t failure;  /* as the tracker classified it, stale or not */
    uint64_t ignored;  /* untracked errors */
    uint64_t rejected;
    uint64_t transitions[FG_STATE_COUNT][FG_STATE_COUNT]; /* [old][new] */
    /* Appended for exact bookkeeping (not exported to Prometheus): */
    uint64_t admitted;      /* tickets admitted (disabled excluded); each admitted
                               ticket released once adds to exactly one of
                               success, failure, ignored */
    uint64_t stale;         /* outcomes discarded: older generation or lost lease */
    uint64_t lease_expired; /* half-open leases taken back */
} fg_counters;

typedef struct fg_info {
    const char *name;            /* owned by the breaker */
    fg_state state;
    double changed_at;
    uint32_t reopens;
    uint32_t consecutive_failures;
    uint64_t generation;
    uint32_t half_open_in_flight;
    fg_metric metric;            /* as of now (a TimeWindow drops elapsed seconds) */
    fg_counters counters;
    fg_clock_kind clock_kind;    /* the clock the breaker reads: PRECISE, COARSE or CUSTOM */
    uint64_t transitions;        /* the sequence number of the latest transition (0: none yet) */
} fg_info;

/* Makes a breaker from the policy's index-th definition. The breaker keeps a
 * reference to the policy. options may be NULL (the defaults, as
 * fg_breaker_options_init sets them). On failure returns NULL and, when err
 * is not NULL, writes a NUL-terminated message into err[0..err_cap) that
 * reads like a compile error, "chunk: error: ...", chunk being the name the
 * policy was compiled under (its path for fg_policy_load):
 *   payment.fgp: error: no breaker #5; it defines 2: 'a', 'b'
 *   payment.fgp: error: breaker 'a': Custom("is_bad") has no registered predicate
 *   payment.fgp: error: breaker 'a': out of memory
 * (fg_breaker_place's messages take the same form.) */
FG_API fg_breaker *fg_breaker_new(fg_policy *policy, size_t index,
                                  const fg_breaker_options *options, char *err, size_t err_cap);
/* fg_breaker_new for the definition called name (fg_policy_find_breaker),
 * so that a missing name is an error of its own instead of an index of -1:
 *   payment.fgp: error: no breaker named 'x'; it defines 'a', 'b'
 * Otherwise the same contract as fg_breaker_new. name must be
 * NUL-terminated; a NULL policy or name is an error too. */
FG_API fg_breaker *fg_breaker_new_named(fg_policy *policy, const char *name,
                                        const fg_breaker_options *options, char *err, size_t err_cap);
FG_API void fg_breaker_free(fg_breaker *breaker);

/* ---- counter sinks: per-name totals without walking breakers ------------ */

/* A sink adds up, as they happen, the counter changes of every breaker
 * attached to it (fg_breaker_options.sink, fg_breaker_set_sink): success,
 * failure, ignored, stale, admitted, rejected, lease_expired, each
 * transition (old, new), and keeps the number of attached breakers per
 * state (+1 closed when a fresh breaker is made, old -1 / new +1 at every
 * transition and restore, -1 when the breaker is freed or detached). So a
 * reader gets a name's totals in O(states + counters), whatever the number
 * of breakers, and the counts of freed breakers stay (they never
 * decrease). What a breaker counted before it was attached is not added
 * (fg_breaker_info has it); a restore moves the state count but adds no
 * calls. A sink counts what this process's handles do: a block that other
 * processes drive too (shared memory) should not be given one.
 *
 * Reference counted: fg_sink_new returns one reference, each attached
 * breaker holds one until it is freed or detached, fg_sink_free drops one
 * (the last frees the sink through its allocator). Reading is safe while
 * breakers run; the totals are then a moment's, not a cut. */
typedef struct fg_sink_totals {
    fg_counters counters;            /* summed over everything attached breakers did */
    uint64_t states[FG_STATE_COUNT]; /* attached breakers per state now */
    uint64_t breakers;               /* attached breakers now (the sum of states) */
} fg_sink_totals;

enum {
    /* fg_sink_new flags: every breaker of the sink is only ever used from
     * one thread at a time (a Lua state): plain adds instead of atomic
     * read-modify-writes, one stripe instead of one per group of CPUs. */
    FG_SINK_SINGLE_THREAD = 1
};

/* A new empty sink (NULL: out of memory); alloc NULL: realloc/free. */
FG_API fg_sink *fg_sink_new(const fg_allocator *alloc, unsigned flags);
FG_API void fg_sink_retain(fg_sink *sink);
/* Drops one reference (NULL: nothing). */
FG_API void fg_sink_free(fg_sink *sink);
FG_API void fg_sink_read(const fg_sink *sink, fg_sink_totals *out);

/* Moves the breaker to another sink (NULL: none): its state's count moves
 * from the old sink to the new one; the counts it has made stay in the old
 * one, and what it does from now on goes to the new one. A reload keeps the
 * breaker's sink. Not safe while other threads call the breaker (the hot
 * path reads the pointer without synchronisation). */
FG_API void fg_breaker_set_sink(fg_breaker *breaker, fg_sink *sink);

/* ---- placement: the state block (SPEC section 10) ------------------------ */

/* A breaker is a small per-process handle (policy reference, clock, random
 * and allocator hooks, listeners, Custom() predicates) around one flat state
 * block: contiguous, pointer-free and position-independent, its size a
 * function of the definition alone. Both can live in memory the caller
 * provides -- a Lua userdata, a shared mapping that several processes see
 * (the block), an array of a game's entities -- aligned to FG_BLOCK_ALIGN
 * bytes (what every malloc, Lua and LuaJIT userdata guarantee). */
enum { FG_BLOCK_ALIGN = 8 };

/* The state block's size for the policy's index-th definition; 0 when there
 * is no such definition. fg_breaker_footprint is the size of a block that
 * keeps the breaker's own counters (the default); fg_breaker_footprint_with
 * the size for these options (NULL: the defaults): with sink_only set, the
 * block keeps none and is 184 bytes smaller. */
FG_API size_t fg_breaker_footprint(const fg_policy *policy, size_t index);
FG_API size_t fg_breaker_footprint_with(const fg_policy *policy, size_t index,
                                        const fg_breaker_options *options);
/* The handle's size for that definition (it holds one entry per Custom()
 * name of the tracker); 0 when there is no such definition. */
FG_API size_t fg_breaker_handle_footprint(const fg_policy *policy, size_t index);

/* fg_breaker_new with caller memory. block: fg_breaker_footprint_with bytes
 * for these options (fg_breaker_footprint without sink_only),
 * aligned to FG_BLOCK_ALIGN, owned by the caller, who keeps it until
 * fg_breaker_free. handle: NULL to allocate the handle through
 * options->alloc, or fg_breaker_handle_footprint bytes of the caller's
 * (aligned likewise; then fg_breaker_free frees nothing of it). attach = 0
 * initialises a fresh breaker in the block; attach = 1 joins the breaker the
 * block already holds (another process's, or one restored from a file),
 * which must come from a definition with the same fingerprint: otherwise
 * NULL and a message. Listeners added later are allocated through
 * options->alloc. */
FG_API fg_breaker *fg_breaker_place(fg_policy *policy, size_t index,
                                    const fg_breaker_options *options, void *handle, void *block,
                                    size_t block_size, int attach, char *err, size_t err_cap);

/* ---- live reload (SPEC section 10) ----------------------------------------- */

/* Switches the breaker to the policy's index-th definition while it runs
 * (the policy may be another one; the breaker keeps a reference to it),
 * keeping its state: the state and generation (tickets admitted before the
 * reload stay valid), changed_at, reopens, consecutive failures, the
 * retry's jitter factor (clamped into the new retry's range; the new
 * retry's wait counts from changed_at), the half-open leases whose slot
 * exists under the new max_half_open_calls, every counter, the transition
 * sequence and the clock. The window is kept when its kind, size, slow
 * thresholds and duration storage (AvgLatency or not) are unchanged, and
 * starts empty otherwise. Transitions after the reload carry the new
 * definition's texts and name. Custom() names are resolved with the
 * resolver the breaker was made with (it must still be valid). Safe while
 * other threads call the breaker; listeners stay.
 * Returns 0, or -1 and a message in err[0..err_cap) -- no such definition,
 * a Custom() name the resolver does not know, out of memory, or a breaker
 * whose block is caller memory -- and then nothing has changed.
 * Memory: the new handle and block are one allocation through the
 * breaker's allocator; the replaced ones are kept until fg_breaker_free
 * (a call that started just before the switch may still read them). */
FG_API int fg_breaker_reload(fg_breaker *breaker, fg_policy *policy, size_t index, char *err,
                             size_t err_cap);

typedef struct fg_reload_options {
    void *block;       /* NULL: allocate the new block; else caller memory of */
    size_t block_size; /* fg_breaker_footprint(policy, index) bytes, aligned to FG_BLOCK_ALIGN */
    fg_custom_resolver resolve_custom; /* NULL: the resolver given at creation */
    void *resolve_ud;
} fg_reload_options;

/* fg_breaker_reload with options: a placed breaker (fg_breaker_place) is
 * reloaded into new caller memory (`block`; the old block must stay valid
 * until fg_breaker_free, like every block the breaker has had), and a
 * resolver can be given for the new definition's Custom() names. Memory
 * smaller than the new footprint: -1 and nothing changes. A block shared
 * with other processes must not be reloaded by one of them (their handles
 * would find it moved and reject every call as forced_open): the Lua
 * binding's shared breakers are refused with -1; a block you share yourself
 * through fg_breaker_place(attach = 1) is not detected -- do not reload it. */
FG_API int fg_breaker_reload_with(fg_breaker *breaker, fg_policy *policy, size_t index,
                                  const fg_reload_options *options, char *err, size_t err_cap);

/* ---- snapshots (SPEC section 10) --------------------------------------- */

/* Writes the breaker's state in the versioned little-endian snapshot format
 * into buf[0..cap) and returns the number of bytes the whole snapshot needs
 * (snprintf-style: nothing is written past cap, and buf holds a complete
 * snapshot only when the result is <= cap; call with cap 0 to size). The
 * format (src/fg_snapshot.h) is the same bytes on every machine and Lua:
 * state, generation, reopens, consecutive failures, the time since the last
 * transition, the retry's jitter, the PRNG state, every counter, the
 * window's records and the half-open leases, with the definition's
 * fingerprint and a checksum. Times are stored relative to the breaker's
 * clock now. Takes the breaker's lock (a consistent cut, also while other
 * threads call through the breaker). */
FG_API size_t fg_breaker_snapshot(fg_breaker *breaker, void *buf, size_t cap);

/* Replaces the breaker's state with a snapshot's, rebasing its times on the
 * breaker's clock now: the remaining cooldown, lease times and window ages
 * are the snapshot's (a TimeWindow keeps ages in its whole seconds). The
 * snapshot must come from a definition with the same fingerprint (another
 * breaker name is fine). Returns 0, or -1 with a NUL-terminated message in
 * err[0..err_cap) -- a truncated, corrupted, hostile or foreign snapshot, or
 * one of another definition (naming both fingerprints) -- and then changes
 * nothing. A restore is not a transition (listeners hear nothing); it moves
 * the generation past both the breaker's and the snapshot's, so outcomes of
 * calls admitted before it are stale. Half-open leases come back held by
 * tickets that no longer exist and end when their lease does. */
FG_API int fg_breaker_restore(fg_breaker *breaker, const void *data, size_t len, char *err,
                              size_t err_cap);

/* Adds a listener; returns 0, or -1 when out of memory. Listeners run in the
 * order added, outside the breaker's lock, on a thread inside a call to this
 * breaker: the one that caused the transition, or one that was already
 * delivering earlier transitions (each listener sees them in sequence order,
 * each once). Not a hot-path call: it allocates (the first listener also
 * allocates the delivery queue). */
FG_API int fg_breaker_add_listener(fg_breaker *breaker, fg_listener_fn fn, void *ud);

/* ---- the call protocol (the hot path: no allocation, O(1)) -------------- */

/* What acquire hands out. Admitted tickets are given back to release. */
typedef struct fg_ticket {
    int admitted;        /* 1: run the call; 0: rejected */
    fg_state state;      /* the state that admitted or rejected the call */
    uint64_t generation; /* outcomes of older generations are discarded */
    double started_at;   /* the breaker's time at admission; 0 when the admission read no
                            clock (default clock, closed, no SlowRate/AvgLatency rule) */
    int32_t slot;        /* half-open slot held, or -1 */
    uint32_t slot_seq;
    double retry_after;  /* rejections: seconds until a probe may pass; < 0 when unknown */
} fg_ticket;

/* What release did with an outcome. */
typedef enum fg_verdict {
    FG_VERDICT_SUCCESS,  /* recorded as a success */
    FG_VERDICT_FAILURE,  /* recorded as a failure */
    FG_VERDICT_IGNORED,  /* an untracked error: not recorded */
    FG_VERDICT_STALE_SUCCESS, /* classified, but from an older generation: discarded */
    FG_VERDICT_STALE_FAILURE,
    FG_VERDICT_UNRECORDED /* disabled, or a ticket that was not admitted */
} fg_verdict;

/* Returns ticket->admitted. Reads a custom clock once; a default clock only
 * when the state and definition need the time (never in closed,
 * metrics_only, disabled or forced_open without a SlowRate/AvgLatency
 * rule). Takes no lock in closed, metrics_only, disabled and forced_open. */
FG_API int fg_breaker_acquire(fg_breaker *breaker, fg_ticket *ticket);
/* The same at a time the caller read itself (simulations, FFI callers). */
FG_API int fg_breaker_acquire_at(fg_breaker *breaker, double now, fg_ticket *ticket);

/* Classifies the outcome with the tracker (runs Custom() predicates; takes no
 * lock): FG_OUTCOME_FAILURE, FG_OUTCOME_SUCCESS or FG_OUTCOME_UNTRACKED. */
FG_API fg_outcome_class fg_breaker_classify(const fg_breaker *breaker, const fg_outcome *outcome);

/* Records a classified outcome (class as fg_breaker_classify returns it; any
 * other negative value counts as untracked, any other positive as failure).
 * duration < 0 means "now - ticket->started_at" -- with a default clock and
 * no SlowRate/AvgLatency rule nothing reads durations but info(), and an
 * unmeasured one counts 0 (no clock is read). Releasing one ticket twice
 * is the caller's bug; the Lua binding guards against it. */
FG_API fg_verdict fg_breaker_record(fg_breaker *breaker, const fg_ticket *ticket,
                                    fg_outcome_class outcome_class, double duration);
FG_API fg_verdict fg_breaker_record_at(fg_breaker *breaker, const fg_ticket *ticket,
                                       fg_outcome_class outcome_class, double duration, double now);

/* classify + record. */
FG_API fg_verdict fg_breaker_release(fg_breaker *breaker, const fg_ticket *ticket,
                                     const fg_outcome *outcome, double duration);

/* ---- queries and manual commands --------------------------------------- */

FG_API fg_state fg_breaker_state(fg_breaker *breaker);
FG_API void fg_breaker_info(fg_breaker *breaker, fg_info *info);
FG_API const char *fg_breaker_name(const fg_breaker *breaker);
FG_API double fg_breaker_now(fg_breaker *breaker); /* the breaker's clock */

FG_API void fg_breaker_reset(fg_breaker *breaker);        /* -> closed */
FG_API void fg_breaker_disable(fg_breaker *breaker);      /* -> disabled */
FG_API void fg_breaker_metrics_only(fg_breaker *breaker); /* -> metrics_only */
FG_API void fg_breaker_force_open(fg_breaker *breaker);   /* -> forced_open */

FG_API const char *fg_state_name(fg_state state);
/* Returns the state named name, or -1. */
FG_API int fg_state_from_name(const char *name);
FG_API const char *fg_version(void);
/* ---- families: breakers of one definition per key (SPEC section 10) ----- */

/* A family holds one breaker per key -- any bytes with a length, NULs
 * included -- made on first use, all of one definition (policy + index),
 * sharing one set of callbacks (clock, random, Custom() predicates,
 * listeners). Per key it keeps only the state block (fg_breaker_footprint)
 * and a small index entry. Thread-safe: every function may be called from
 * several threads at once, also for the same key.
 *
 * Bounds. max_keys > 0 caps the number of keys; idle > 0 evicts keys not
 * acquired for idle seconds (of the family's clock: options.breaker.clock,
 * or the default monotonic one). Eviction takes the least recently used
 * keys first (a key is used by fg_family_acquire and fg_family_get) and
 * never a key whose breaker is not closed or has calls in flight (admitted
 * and not yet recorded). A call is counted as lost, so that it no longer
 * keeps its key, once the key has not been acquired for `lease` seconds
 * (default: the definition's half_open_lease): such a key is evicted like
 * an idle one, but its memory is kept until its calls are recorded or the
 * family is freed, so that a late record is safe (and counted as usual).
 * A key that cannot be made because the family is full of keys in use is
 * an error (-1 and a message), never an eviction of a key in use.
 *
 * Counters. fg_family_totals sums the counters of every breaker the family
 * ever had (evicted ones included: they never go down) and counts the keys
 * per state, in O(states), whatever the number of keys. */
typedef struct fg_family fg_family;

typedef struct fg_family_options {
    fg_breaker_options breaker; /* for every key; a seed is mixed with each key's bytes */
    size_t max_keys;            /* 0: unbounded */
    double idle;                /* seconds; 0: keys are never evicted for idleness */
    double lease;               /* seconds; 0: the definition's half_open_lease */
} fg_family_options;

/* An admission of one key's breaker; hand it back to fg_family_record or
 * fg_family_release (once) whatever the outcome. `entry` is the family's. */
typedef struct fg_family_ticket {
    fg_ticket ticket;
    void *entry;
} fg_family_ticket;

/* Aggregates over every key the family has had (O(states) to read). */
typedef struct fg_family_totals {
    fg_counters counters;             /* summed; evicted keys' counts stay */
    uint64_t states[FG_STATE_COUNT];  /* keys per state now */
    uint64_t keys;                    /* keys now (fg_family_size) */
    uint64_t created;                 /* keys made since the family was */
    uint64_t evicted;                 /* keys evicted (idle, max_keys, lost calls) */
} fg_family_totals;

/* Lists keys: return 0 to go on, anything else to stop. */
typedef int (*fg_family_key_fn)(void *ud, const char *key, size_t key_len);

/* Makes an empty family of the policy's index-th definition; it keeps a
 * reference to the policy. options may be NULL. NULL and a message in
 * err[0..err_cap) when the definition is missing, a Custom() name cannot be
 * resolved, or memory runs out. */
FG_API fg_family *fg_family_new(fg_policy *policy, size_t index, const fg_family_options *options,
                                char *err, size_t err_cap);
/* Frees the family and every key's breaker. No call may be running. */
FG_API void fg_family_free(fg_family *family);
FG_API const char *fg_family_name(const fg_family *family); /* the definition's name */

/* Switches every key of the family to the policy's index-th definition,
 * keeping each key's state as fg_breaker_reload does. The family's own
 * part switches at once (new keys, classification); an existing key moves
 * on its next use (acquire, get, state, info, command), under the family's
 * lock, when it has no calls in flight -- until then it runs its previous
 * definition. Moving a key allocates its new entry (out of memory: it
 * stays as it is and tries again on a later use). Returns 0, or -1 and a
 * message (as fg_breaker_reload), changing nothing. Safe while other
 * threads call the family. Memory: the previous definitions' handles stay
 * until fg_family_free. Custom() names are resolved with the resolver the
 * family was made with, which must still be valid (else use
 * fg_family_reload_with and a resolver). */
FG_API int fg_family_reload(fg_family *family, fg_policy *policy, size_t index, char *err,
                            size_t err_cap);
/* fg_family_reload with options: options->resolve_custom/resolve_ud (when
 * resolve_custom is not NULL) resolve the new definition's Custom() names
 * instead of the resolver the family was made with -- give one whenever
 * that resolver's ud may no longer be valid (it is called during this
 * reload only, and not kept). options->block must be NULL: a family's
 * blocks are the engine's (keys get new entries as they move), so caller
 * memory is refused (-1, nothing changed). options may be NULL:
 * fg_family_reload is fg_family_reload_with(..., NULL, ...). */
FG_API int fg_family_reload_with(fg_family *family, fg_policy *policy, size_t index,
                                 const fg_reload_options *options, char *err, size_t err_cap);

/* Makes the key's breaker if it does not exist (evicting as above), marks
 * the key used. Returns 0, or -1 with a message: "fluxgate family is full:
 * ..." when max_keys are all in use, "out of memory". */
FG_API int fg_family_get(fg_family *family, const void *key, size_t key_len, char *err,
                         size_t err_cap);

/* fg_breaker_acquire on the key's breaker, made on first use. Returns 1
 * (admitted), 0 (rejected: ticket->ticket says why), or -1 when the key
 * could not be made (as fg_family_get; the ticket is then a rejection with
 * retry_after -1). Takes the family's lock once (a hash lookup, O(1)). */
FG_API int fg_family_acquire(fg_family *family, const void *key, size_t key_len,
                             fg_family_ticket *ticket, char *err, size_t err_cap);
FG_API int fg_family_acquire_at(fg_family *family, const void *key, size_t key_len, double now,
                                fg_family_ticket *ticket, char *err, size_t err_cap);
/* As fg_breaker_classify, with the family's Custom() predicates. */
FG_API fg_outcome_class fg_family_classify(const fg_family *family, const fg_outcome *outcome);
/* As fg_breaker_record / _record_at / _release, for a family ticket. No
 * lookup: the ticket names its key's breaker. */
FG_API fg_verdict fg_family_record(fg_family *family, const fg_family_ticket *ticket,
                                   fg_outcome_class outcome_class, double duration);
FG_API fg_verdict fg_family_record_at(fg_family *family, const fg_family_ticket *ticket,
                                      fg_outcome_class outcome_class, double duration, double now);
FG_API fg_verdict fg_family_release(fg_family *family, const fg_family_ticket *ticket,
                                    const fg_outcome *outcome, double duration);

/* Queries and commands on an existing key (they make none): -1 when the
 * family has no such key. fg_family_state returns the state; _info fills
 * info (info->name is the definition's name); _command moves the key's
 * breaker to `to` -- FG_STATE_CLOSED (reset), _DISABLED, _METRICS_ONLY or
 * _FORCED_OPEN -- and returns 0 (-1 for another state). */
FG_API int fg_family_state(fg_family *family, const void *key, size_t key_len);
FG_API int fg_family_info(fg_family *family, const void *key, size_t key_len, fg_info *info);
FG_API int fg_family_command(fg_family *family, const void *key, size_t key_len, fg_state to);

FG_API size_t fg_family_size(fg_family *family);
/* Calls fn for every key, most recently used first, under the family's
 * lock: fn must not call into the family. Returns the number of keys seen. */
FG_API size_t fg_family_keys(fg_family *family, fg_family_key_fn fn, void *ud);
FG_API void fg_family_totals_get(fg_family *family, fg_family_totals *out);
/* Evicts every idle key that may be evicted (not only the few that each
 * acquire looks at); returns how many. O(keys): for a periodic sweep. */
FG_API size_t fg_family_evict_idle(fg_family *family);
/* Adds a listener for every key's transitions (fg_transition.key names the
 * key); 0, or -1 when out of memory. Transitions of one key reach each
 * listener in sequence order, each once. */
FG_API int fg_family_add_listener(fg_family *family, fg_listener_fn fn, void *ud);
/* Bytes a key takes: its state block plus its index entry (and the key's
 * own bytes, key_len, on top). */
FG_API size_t fg_family_key_footprint(const fg_family *family);
/* FG_FFI_END */

/* ---- initializers (macros, so outside the FFI region) ------------------- */

/* fg_breaker_options with every default, for declarations:
 *     fg_breaker_options options = FG_BREAKER_OPTIONS_INIT;
 * The same values as fg_breaker_options_init (fields in declaration order;
 * positional so that C++ can use it too; a field added to the struct but not
 * here is caught by -Wextra's -Wmissing-field-initializers wherever the macro
 * is used, as in examples/basic.c and tests/test_breaker_new.c). */
#define FG_BREAKER_OPTIONS_INIT                                                \
    {                                                                          \
        {NULL, NULL},  /* alloc: realloc/free */                               \
        NULL, NULL,    /* clock, clock_ud: the monotonic clock */              \
        NULL, NULL,    /* random, random_ud: the breaker's own PRNG */         \
        0, 0,          /* has_seed, seed: seeded from address and clock */     \
        NULL, NULL,    /* resolve_custom, resolve_ud: none */                  \
        FG_CLOCK_AUTO, /* clock_kind */                                        \
        NULL,          /* sink: none */                                        \
        0,             /* single_thread: threads and processes may share it */ \
        0              /* sink_only: the block keeps the breaker's counters */ \
    }

#ifdef __cplusplus
}
#endif
#endif /* FLUXGATE_H */
