/*
 * fg_breaker.c -- breakers' life cycle (footprints, placement into caller
 * memory or the allocator's, freeing), listeners, queries and the manual
 * commands.
 *
 * Everything a breaker will ever need on the hot path is in its handle and
 * its block from the start, so the call protocol (fg_breaker_call.c) never
 * allocates. fg_breaker_new is fg_breaker_place on one allocation that holds
 * the handle and then the block.
 */
#include "fg_breaker_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_clock.h"

/* Creation errors read like compile errors: "chunk: error: " (the name the
 * policy was compiled under), "breaker 'name': " when the definition exists,
 * then what is wrong. Truncated at cap, as snprintf does. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 5, 6)))
#endif
static void fg_breaker_error(char *err, size_t cap, const fg_policy *policy,
                             const fg_breaker_def *def, const char *fmt, ...) {
    if (err == NULL || cap == 0) return;
    const char *chunk = policy != NULL ? policy->chunk : "policy";
    int n = def != NULL ? snprintf(err, cap, "%s: error: breaker '%s': ", chunk, def->name)
                        : snprintf(err, cap, "%s: error: ", chunk);
    size_t len = n > 0 ? (size_t)n : 0;
    if (len >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + len, cap - len, fmt, ap);
    va_end(ap);
}

/* Appends "; it defines 'a', 'b'" (with_count: "; it defines 2: 'a', 'b'")
 * to the message in err, so that a missing definition's error says what
 * there is. Truncated at cap. */
static void fg_breaker_error_list_names(char *err, size_t cap, const fg_policy *policy,
                                        int with_count) {
    if (err == NULL || cap == 0) return;
    size_t len = strlen(err);
    size_t count = policy->breaker_count;
    if (count == 0) {
        snprintf(err + len, cap - len, "; it defines no breakers");
        return;
    }
    int n = with_count ? snprintf(err + len, cap - len, "; it defines %zu: ", count)
                       : snprintf(err + len, cap - len, "; it defines ");
    for (size_t i = 0; n >= 0; i++) {
        len += (size_t)n < cap - len ? (size_t)n : cap - len - 1;
        if (i == count || len + 1 >= cap) return;
        n = snprintf(err + len, cap - len, "%s'%s'", i == 0 ? "" : ", ", policy->breakers[i].name);
    }
}

/* The "no breaker #index" error, with what the policy defines. */
static void fg_breaker_error_no_index(char *err, size_t cap, const fg_policy *policy,
                                      size_t index) {
    if (policy == NULL) {
        fg_breaker_error(err, cap, NULL, NULL, "no policy (NULL)");
        return;
    }
    if (index == (size_t)-1) { /* fg_policy_find_breaker's "not found", cast */
        fg_breaker_error(err, cap, policy, NULL,
                         "no breaker #-1 (fg_policy_find_breaker's \"no such name\")");
    } else {
        fg_breaker_error(err, cap, policy, NULL, "no breaker #%zu", index);
    }
    fg_breaker_error_list_names(err, cap, policy, 1);
}

static size_t fg_align8(size_t n) {
    return (n + 7u) & ~(size_t)7u;
}

static const fg_breaker_def *fg_breaker_def_of(const fg_policy *policy, size_t index) {
    if (policy == NULL || index >= policy->breaker_count) return NULL;
    return &policy->breakers[index];
}

/* Whether a breaker made with these options keeps its own counters. */
static int fg_breaker_counted(const fg_breaker_options *opt) {
    return opt == NULL || !opt->sink_only;
}

size_t fg_breaker_footprint_with(const fg_policy *policy, size_t index, const fg_breaker_options *opt) {
    const fg_breaker_def *def = fg_breaker_def_of(policy, index);
    fg_block_layout layout;
    if (def == NULL || fg_block_layout_of(def, fg_breaker_counted(opt), &layout) != 0) return 0;
    return layout.size;
}

size_t fg_breaker_footprint(const fg_policy *policy, size_t index) {
    return fg_breaker_footprint_with(policy, index, NULL);
}

/* The tripper memo's bytes after a handle's customs[] (fg_breaker_box_attach):
 * the fg_trip_cache, the newest region, the older region (for a tripper
 * whose regions can differ under one answer) and the table's rate
 * thresholds (when it has rate tests). */
static size_t fg_breaker_memo_size(const fg_program *tripper) {
    size_t box = fg_align8(fg_trip_box_size(fg_program_threshold_count(tripper)));
    uint32_t rates = fg_program_table_rates(tripper);
    return sizeof(fg_trip_cache) + (fg_program_trip_paths(tripper) ? 2 : 1) * box +
           (rates > 0 ? sizeof(uint64_t) * (1 + (size_t)rates) : 0);
}

size_t fg_breaker_handle_footprint(const fg_policy *policy, size_t index) {
    const fg_breaker_def *def = fg_breaker_def_of(policy, index);
    if (def == NULL) return 0;
    return fg_align8(sizeof(fg_breaker) +
                     (size_t)fg_program_custom_count(def->tracker) * sizeof(fg_custom)) +
           fg_breaker_memo_size(def->tripper);
}

void fg_breaker_box_attach(fg_breaker *h) {
    const fg_program *tripper = h->def->tripper;
    uint32_t thresholds = fg_program_threshold_count(tripper);
    size_t box = fg_align8(fg_trip_box_size(thresholds));
    char *at = (char *)h +
               fg_align8(sizeof(fg_breaker) +
                         (size_t)fg_program_custom_count(h->def->tracker) * sizeof(fg_custom));
    fg_trip_cache *tc = (fg_trip_cache *)at;
    h->box = (fg_trip_box *)(at + sizeof(fg_trip_cache));
    size_t boxes = fg_program_trip_paths(tripper) ? 2 : 1;
    tc->older_offset = (uint8_t)(boxes == 2 ? box : 0);
    tc->rates_offset = (uint8_t)(fg_program_table_rates(tripper) > 0 ? boxes * box : 0);
    if (tc->rates_offset != 0)
        ((uint64_t *)((char *)h->box + tc->rates_offset))[0] = FG_TRIP_NO_TOTAL;
    tc->built_at = tc->older_at = 0;
    tc->skip = tc->older_run = 0;
    fg_trip_box *older = fg_breaker_trip_older(h, tc);
    h->box->threshold_count = older->threshold_count = (uint8_t)thresholds;
    fg_trip_box_invalidate(h->box);
    fg_trip_box_invalidate(older);
}

/* Resolves every Custom() name of the tracker through the embedder. */
static int fg_breaker_resolve_customs(fg_breaker *h, const fg_policy *policy,
                                      const fg_breaker_options *opt, char *err, size_t cap) {
    const fg_program *tracker = h->def->tracker;
    uint32_t n = fg_program_custom_count(tracker);
    h->custom_count = n;
    for (uint32_t i = 0; i < n; i++) {
        const char *name = fg_program_custom_name(tracker, i);
        h->customs[i].fn = NULL;
        h->customs[i].ud = NULL;
        int found = opt != NULL && opt->resolve_custom != NULL &&
                    opt->resolve_custom(opt->resolve_ud, name, &h->customs[i]) &&
                    h->customs[i].fn != NULL;
        if (!found) {
            fg_breaker_error(err, cap, policy, h->def, "Custom(\"%s\") has no registered predicate",
                             name);
            return -1;
        }
    }
    return 0;
}

/* Without an explicit seed, mix the block's address and the clock so that
 * two breakers (or two runs) do not share a sequence. */
static uint64_t fg_breaker_default_seed(const void *block, double now) {
    uint64_t bits = 0;
    memcpy(&bits, &now, sizeof bits < sizeof now ? sizeof bits : sizeof now);
    uint64_t state = (uint64_t)(uintptr_t)block ^ (bits * UINT64_C(0x9E3779B97F4A7C15));
    return fg_random_splitmix64(&state);
}

/* The views of the block's window and slots. */
void fg_breaker_views(fg_breaker *h, const fg_block_layout *l, int fresh) {
    fg_block *b = h->block;
    void *extra = l->extra_off != 0 ? fg_block_at(b, l->extra_off) : NULL;
    fg_window_init(&h->window, &b->window, extra, fg_block_at(b, l->slow_off), fg_block_at(b, l->window_off),
                   (fg_window_kind)l->window_kind, l->window_size, fg_program_thresholds(h->def->tripper),
                   l->threshold_count, l->exact_durations, fresh);
    fg_half_open ho;
    fg_half_open_init(&ho, &b->half_open, fg_block_at(b, l->slots_off), l->slot_capacity,
                      h->def->half_open_lease, fresh);
    h->slots_off = l->slots_off;
    h->slot_capacity = ho.capacity;
}

fg_breaker *fg_breaker_place(fg_policy *policy, size_t index, const fg_breaker_options *opt,
                             void *handle, void *block, size_t block_size, int attach, char *err,
                             size_t err_cap) {
    if (err != NULL && err_cap > 0) err[0] = '\0';
    const fg_breaker_def *def = fg_breaker_def_of(policy, index);
    if (def == NULL) {
        fg_breaker_error_no_index(err, err_cap, policy, index);
        return NULL;
    }
    fg_block_layout layout;
    if (fg_block_layout_of(def, fg_breaker_counted(opt), &layout) != 0) {
        fg_breaker_error(err, err_cap, policy, def, "the state block would be larger than 4 GiB");
        return NULL;
    }
    if (block == NULL || ((uintptr_t)block % FG_BLOCK_ALIGN) != 0 || block_size < layout.size) {
        fg_breaker_error(err, err_cap, policy, def,
                         "the state block needs %u bytes aligned to %d (%s)", (unsigned)layout.size,
                         FG_BLOCK_ALIGN, layout.counted ? "fg_breaker_footprint" : "fg_breaker_footprint_with");
        return NULL;
    }
    if (handle != NULL && ((uintptr_t)handle % FG_BLOCK_ALIGN) != 0) {
        fg_breaker_error(err, err_cap, policy, def, "the handle must be aligned to %d bytes",
                         FG_BLOCK_ALIGN);
        return NULL;
    }
    uint64_t fingerprint = fg_block_fingerprint(def);
    if (attach) {
        const char *why = fg_block_check(block, block_size, &layout, fingerprint);
        if (why != NULL) {
            fg_breaker_error(err, err_cap, policy, def, "%s", why);
            return NULL;
        }
    }
    fg_allocator alloc = fg_alloc_resolve(opt != NULL ? &opt->alloc : NULL);
    size_t handle_size = fg_breaker_handle_footprint(policy, index);
    fg_breaker *h = handle;
    if (h == NULL) {
        h = fg_alloc_new(&alloc, handle_size);
        if (h == NULL) {
            fg_breaker_error(err, err_cap, policy, def, "out of memory");
            return NULL;
        }
    }
    memset(h, 0, handle_size);
    h->allocated = handle == NULL ? handle_size : 0;
    h->alloc = alloc;
    h->def = def;
    h->block = block;
    h->lock_tag = fg_lock_owner_tag();
    atomic_init(&h->listeners, NULL);
    atomic_init(&h->dispatch, NULL);
    atomic_init(&h->live, h);
    atomic_init(&h->gens, NULL);
    h->resolve_custom = opt != NULL ? opt->resolve_custom : NULL;
    h->resolve_ud = opt != NULL ? opt->resolve_ud : NULL;
    h->clock_request = (uint8_t)(opt != NULL ? opt->clock_kind : FG_CLOCK_AUTO);
    /* an attached block is another's too (a shared map): never single */
    h->single = (uint8_t)(opt != NULL && opt->single_thread && !attach);
    h->home = h;
    int custom = opt != NULL && opt->clock != NULL;
    h->clock = custom ? opt->clock : NULL;
    h->clock_ud = custom ? opt->clock_ud : NULL;
    h->clock_kind = (uint8_t)fg_clock_choose(def, opt != NULL ? opt->clock_kind : FG_CLOCK_AUTO, custom);
    h->clock_lag = fg_clock_lag((fg_clock_kind)h->clock_kind);
    h->random = opt != NULL ? opt->random : NULL;
    h->random_ud = opt != NULL ? opt->random_ud : NULL;
    h->reads_latency = (uint8_t)fg_block_reads_latency(def->tripper);
    fg_block_streak_bounds(def->tripper, &h->streak_low, &h->streak_high);
    h->needs_duration = (uint8_t)(h->reads_latency || fg_program_threshold_count(def->tripper) > 0);
    fg_breaker_box_attach(h);
    if (fg_breaker_resolve_customs(h, policy, opt, err, err_cap) != 0) {
        if (h->allocated) fg_alloc_free(&h->alloc, h, h->allocated);
        return NULL;
    }

    if (!attach) {
        double raw = custom ? h->clock(h->clock_ud) : fg_clock_read((fg_clock_kind)h->clock_kind);
        double now = fg_clock_usable(raw) ? raw : 0.0;
        uint64_t seed = opt != NULL && opt->has_seed ? opt->seed : fg_breaker_default_seed(block, now);
        fg_block_init(block, &layout, fingerprint, now, seed);
    }
    fg_breaker_views(h, &layout, !attach);
    fg_policy_retain(policy);
    h->policy = policy;
    if (attach) {
        fg_breaker_lock(h);
        fg_breaker_clock_repair_locked(h);
        fg_breaker_structure_repair_locked(h);
        fg_breaker_unlock(h);
    }
    if (opt != NULL && opt->sink != NULL) {
        fg_state state = fg_block_word_state(atomic_load_explicit(&h->block->word, memory_order_acquire));
        fg_breaker_sink_attach(h, opt->sink, state < FG_STATE_COUNT ? state : FG_STATE_FORCED_OPEN);
    }
    return h;
}

void fg_breaker_bind(fg_breaker *view, fg_breaker *proto, fg_block *block,
                     const fg_block_layout *layout, int fresh) {
    /* field by field: proto's listener list and queue are atomics that
     * another thread may be writing, and the view never reads them */
    atomic_init(&view->live, view);
    atomic_init(&view->gens, NULL);
    view->resolve_custom = NULL;
    view->resolve_ud = NULL;
    view->clock_request = proto->clock_request;
    view->own_block = 0;
    view->single = 0; /* a family's keys are used from any thread */
    view->zone_chain = 0; /* a key's block is no zone region: its own counters */
    view->block = block;
    view->def = proto->def;
    view->policy = proto->policy;
    view->lock_tag = proto->lock_tag;
    view->owner = proto->owner;
    view->clock = proto->clock;
    view->clock_ud = proto->clock_ud;
    view->clock_lag = proto->clock_lag;
    view->random = proto->random;
    view->random_ud = proto->random_ud;
    view->alloc = proto->alloc;
    view->allocated = 0;
    view->clock_kind = proto->clock_kind;
    view->needs_duration = proto->needs_duration;
    view->reads_latency = proto->reads_latency;
    view->streak_low = proto->streak_low;
    view->streak_high = proto->streak_high;
    view->custom_count = 0;
    view->home = proto->home; /* proto may be a reload's handle: home has the listeners */
    view->keyed = NULL;
    view->sink = NULL; /* families keep their own aggregates */
    view->box = NULL;  /* keys share proto under different locks: the block's memo */
    /* (one definition and one counting: one layout) */
    if (fresh || proto->block == NULL || proto->block->fingerprint != block->fingerprint ||
        fg_block_counted(proto->block) != layout->counted) {
        fg_breaker_views(view, layout, fresh);
        return;
    }
    /* An existing block of proto's layout: proto's views, moved to this
     * block (a family binds twice per call; fg_breaker_views would redo the
     * layout's arithmetic each time). */
    fg_window_rebase(&view->window, &proto->window, proto->block, block);
    view->slots_off = proto->slots_off; /* offsets: the same in every block of the layout */
    view->slot_capacity = proto->slot_capacity;
}

fg_breaker *fg_breaker_new(fg_policy *policy, size_t index, const fg_breaker_options *opt, char *err,
                           size_t err_cap) {
    if (err != NULL && err_cap > 0) err[0] = '\0';
    const fg_breaker_def *def = fg_breaker_def_of(policy, index);
    if (def == NULL) {
        fg_breaker_error_no_index(err, err_cap, policy, index);
        return NULL;
    }
    size_t handle_size = fg_breaker_handle_footprint(policy, index);
    size_t block_size = fg_breaker_footprint_with(policy, index, opt);
    if (block_size == 0) {
        fg_breaker_error(err, err_cap, policy, def, "the state block would be larger than 4 GiB");
        return NULL;
    }
    fg_allocator alloc = fg_alloc_resolve(opt != NULL ? &opt->alloc : NULL);
    size_t total = handle_size + block_size; /* handle_size is a multiple of 8 */
    char *memory = fg_alloc_new(&alloc, total);
    if (memory == NULL) {
        fg_breaker_error(err, err_cap, policy, def, "out of memory");
        return NULL;
    }
    fg_breaker *h = fg_breaker_place(policy, index, opt, memory, memory + handle_size, block_size, 0,
                                     err, err_cap);
    if (h == NULL) {
        fg_alloc_free(&alloc, memory, total);
        return NULL;
    }
    h->allocated = total;
    h->own_block = 1;
    return h;
}

fg_breaker *fg_breaker_new_named(fg_policy *policy, const char *name, const fg_breaker_options *opt,
                                 char *err, size_t err_cap) {
    if (err != NULL && err_cap > 0) err[0] = '\0';
    if (policy == NULL || name == NULL) {
        fg_breaker_error(err, err_cap, policy, NULL, "%s",
                         policy == NULL ? "no policy (NULL)" : "no breaker name (NULL)");
        return NULL;
    }
    long index = fg_policy_find_breaker(policy, name);
    if (index < 0) {
        fg_breaker_error(err, err_cap, policy, NULL, "no breaker named '%s'", name);
        fg_breaker_error_list_names(err, err_cap, policy, 0);
        return NULL;
    }
    return fg_breaker_new(policy, (size_t)index, opt, err, err_cap);
}

void fg_breaker_options_init(fg_breaker_options *options) {
    *options = (fg_breaker_options)FG_BREAKER_OPTIONS_INIT;
}

void fg_breaker_free(fg_breaker *h) {
    if (h == NULL) return;
    fg_breaker_sink_detach(h);
    fg_breaker_free_gens(h);
    fg_policy *policy = h->policy;
    fg_listener *l = atomic_load_explicit(&h->listeners, memory_order_acquire);
    while (l != NULL) {
        fg_listener *next = atomic_load_explicit(&l->next, memory_order_acquire);
        fg_alloc_free(&h->alloc, l, sizeof *l);
        l = next;
    }
    fg_breaker_dispatch_free(h);
    fg_allocator alloc = h->alloc;
    if (h->allocated) fg_alloc_free(&alloc, h, h->allocated);
    fg_policy_free(policy);
}

int fg_breaker_add_listener(fg_breaker *h, fg_listener_fn fn, void *ud) {
    if (fn == NULL) return -1;
    fg_listener *l = fg_alloc_new(&h->alloc, sizeof *l);
    if (l == NULL) return -1;
    l->fn = fn;
    l->ud = ud;
    atomic_init(&l->next, NULL);
    /* The delivery queue comes with the first listener, made outside the
     * lock and published under it, so that transitions are numbered for
     * delivery exactly from when it exists. */
    fg_dispatch *made = NULL;
    if (atomic_load_explicit(&h->dispatch, memory_order_acquire) == NULL) {
        made = fg_breaker_dispatch_make(h);
        if (made == NULL) {
            fg_alloc_free(&h->alloc, l, sizeof *l);
            return -1;
        }
    }
    /* the lock of the block transitions are numbered under now */
    fg_breaker *locked = fg_breaker_lock_live(fg_breaker_live(h));
    if (made != NULL && atomic_load_explicit(&h->dispatch, memory_order_relaxed) == NULL) {
        atomic_store_explicit(&h->dispatch, made, memory_order_release);
        made = NULL;
    }
    fg_breaker_dispatch_append_listener(h, atomic_load_explicit(&h->dispatch, memory_order_relaxed), l);
    fg_breaker_unlock(locked);
    fg_breaker_dispatch_discard(h, made); /* another call published one first */
    return 0;
}

const char *fg_breaker_name(const fg_breaker *h) {
    return fg_breaker_live(h)->def->name;
}

double fg_breaker_now(fg_breaker *h) {
    h = fg_breaker_live(h);
    fg_when when = fg_breaker_when(h);
    h = fg_breaker_lock_live(h);
    double now = fg_breaker_now_locked(h, &when);
    fg_breaker_unlock(h);
    return now;
}

fg_state fg_breaker_state(fg_breaker *h) {
    for (;;) {
        fg_breaker *live = fg_breaker_live(h);
        fg_state s = fg_block_word_state(atomic_load_explicit(&live->block->word, memory_order_acquire));
        if (s < FG_STATE_COUNT) return s;
        /* moved by another process, or a word in no state (a shared block
         * in a zone file someone else wrote): rejected as forced_open by
         * admission, so reported as such */
        if (s != (fg_state)FG_STATE_MOVED || fg_breaker_live(h) == live) return FG_STATE_FORCED_OPEN;
    }
}

void fg_breaker_info(fg_breaker *h, fg_info *info) {
    h = fg_breaker_live(h);
    fg_when when = fg_breaker_when(h);
    h = fg_breaker_lock_live(h);
    fg_block *b = h->block;
    double now = fg_breaker_now_locked(h, &when);
    fg_breaker_expire_leases_locked(h, now);
    uint64_t word = atomic_load_explicit(&b->word, memory_order_relaxed);
    info->name = h->def->name;
    info->state = fg_block_word_state(word);
    if (info->state >= FG_STATE_COUNT) info->state = FG_STATE_FORCED_OPEN; /* see fg_breaker_state */
    info->generation = fg_block_word_generation(word);
    info->changed_at = b->changed_at;
    info->reopens = b->reopens;
    info->consecutive_failures = b->consecutive_failures;
    info->half_open_in_flight = b->half_open.in_flight;
    fg_window_metric(&h->window, now, &info->metric);
    fg_counters *c = &info->counters;
    memset(c, 0, sizeof *c);
    const fg_block_counts *own = fg_block_counts_of(b);
    if (own != NULL) {
        c->success = own->success;
        c->failure = own->failure;
        c->ignored = own->ignored;
        c->stale = own->stale;
        c->lease_expired = own->lease_expired;
        for (int from = 0; from < FG_STATE_COUNT; from++)
            for (int to = 0; to < FG_STATE_COUNT; to++) {
                int cell = fg_block_transition_cell((fg_state)from, (fg_state)to);
                if (cell >= 0) c->transitions[from][to] = fg_block_transitions_get(own, cell);
            }
        /* Counted without the lock: exact once the calls that made them are over. */
        fg_breaker_count_admissions(h, &c->admitted, &c->rejected);
    }
    info->transitions = b->sequence;
    fg_breaker_unlock(h);
    /* A breaker that counts only into its sink reports the sink's totals. */
    if (own == NULL && h->home->sink != NULL) {
        fg_sink_totals totals;
        fg_sink_read(h->home->sink, &totals);
        *c = totals.counters;
    }
    /* A shared breaker's other blocks (older or newer definitions, which
     * other processes may count into): read after the lock, without theirs. */
    if (h->zone_chain) fg_breaker_zone_counters_add(h, c);
    info->clock_kind = (fg_clock_kind)h->clock_kind;
}

/* A manual command: a transition like any other (even closed -> closed). */
static void fg_breaker_command(fg_breaker *h, fg_state to, const char *reason) {
    h = fg_breaker_live(h);
    fg_when when = fg_breaker_when(h);
    fg_pending pending;
    pending.active = 0;
    h = fg_breaker_lock_live(h);
    double now = fg_breaker_now_locked(h, &when);
    fg_breaker_transition_locked(h, to, reason, now, &pending);
    fg_breaker_unlock(h);
    fg_breaker_dispatch(h, &pending);
}

void fg_breaker_reset(fg_breaker *h) {
    fg_breaker_command(h, FG_STATE_CLOSED, "reset()");
}

void fg_breaker_disable(fg_breaker *h) {
    fg_breaker_command(h, FG_STATE_DISABLED, "disable()");
}

void fg_breaker_metrics_only(fg_breaker *h) {
    fg_breaker_command(h, FG_STATE_METRICS_ONLY, "metrics_only()");
}

void fg_breaker_force_open(fg_breaker *h) {
    fg_breaker_command(h, FG_STATE_FORCED_OPEN, "force_open()");
}
