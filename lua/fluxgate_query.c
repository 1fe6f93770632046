/*
 * fluxgate_query.c -- reading breakers from Lua: state, info (the whole
 * fg_info as a table), the manual commands, draining the transition queue
 * into listener signals, and the counters of every breaker by name for
 * fluxgate.prometheus().
 */
#include <string.h>

#include "fg_breaker_internal.h"
#include "fg_breaker_shared.h"
#include "fluxgate_lua.h"

static const char *const fgl_clock_names[] = {"auto", "precise", "coarse", "custom"};

/* Prepares a query: the Lua clock is read first (it may raise). */
static fgl_breaker *fgl_query_begin(lua_State *L, const char *fname, fgl_call *c) {
    fgl_breaker *b = fgl_check_breaker(L, 1, fname);
    lua_settop(L, 1);
    fgl_read_clock(L, b, 1);
    fgl_enter(L, b, 1, c);
    return b;
}

/* state(self) -> state name, pending */
static int fgl_state(lua_State *L) {
    fgl_call c;
    fgl_breaker *b = fgl_query_begin(L, "state", &c);
    fg_state s = fg_breaker_state(b->head.engine);
    fgl_leave(L, b, &c);
    lua_pushstring(L, fg_state_name(s));
    lua_pushboolean(L, b->head.pending != 0);
    return 2;
}

/* command(self, op) -> pending; op 0 reset, 1 disable, 2 metrics_only, 3 force_open */
static int fgl_command(lua_State *L) {
    static const char *const names[] = {"reset", "disable", "metrics_only", "force_open"};
    lua_Integer op = luaL_checkinteger(L, 2);
    luaL_argcheck(L, op >= 0 && op <= 3, 2, "unknown command");
    fgl_call c;
    fgl_breaker *b = fgl_query_begin(L, names[op], &c);
    switch (op) {
    case 0: fg_breaker_reset(b->head.engine); break;
    case 1: fg_breaker_disable(b->head.engine); break;
    case 2: fg_breaker_metrics_only(b->head.engine); break;
    default: fg_breaker_force_open(b->head.engine); break;
    }
    fgl_leave(L, b, &c);
    lua_pushboolean(L, b->head.pending != 0);
    return 1;
}

/* Pushes a metric as info() shows it: averages and rates are nil when the
 * window is empty, slow_counts is keyed by threshold. */
void fgl_push_metric(lua_State *L, const fg_metric *m) {
    lua_createtable(L, 0, 6);
    fgl_pushcount(L, m->total_count);
    lua_setfield(L, -2, "total_count");
    fgl_pushcount(L, m->failure_count);
    lua_setfield(L, -2, "failure_count");
    lua_pushnumber(L, m->total_duration);
    lua_setfield(L, -2, "total_duration");
    if (m->total_count > 0) {
        lua_pushnumber(L, m->total_duration / (double)m->total_count);
        lua_setfield(L, -2, "avg_duration");
        lua_pushnumber(L, (double)m->failure_count / (double)m->total_count);
        lua_setfield(L, -2, "failure_rate");
    }
    uint32_t n = m->threshold_count < FG_MAX_SLOW_THRESHOLDS ? m->threshold_count : FG_MAX_SLOW_THRESHOLDS;
    lua_createtable(L, 0, (int)n);
    for (uint32_t i = 0; i < n; i++) {
        lua_pushnumber(L, m->thresholds[i]);
        fgl_pushcount(L, m->slow_counts[i]);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "slow_counts");
}

static void fgl_set_count(lua_State *L, const char *field, uint64_t n) {
    fgl_pushcount(L, n);
    lua_setfield(L, -2, field);
}

/* The clock a breaker reads, by name, as the engine reports it (never
 * AUTO; "precise" should an engine ever answer otherwise). */
static const char *fgl_clock_name(fg_clock_kind kind) {
    if (kind <= FG_CLOCK_AUTO || kind > FG_CLOCK_CUSTOM) return fgl_clock_names[FG_CLOCK_PRECISE];
    return fgl_clock_names[kind];
}

/* info(self) -> { name, state, changed_at, reopens, consecutive_failures,
 *   generation, half_open_in_flight, clock, transitions, metrics,
 *   counters = { success, failure, ignored, rejected, admitted, stale,
 *                lease_expired } }, pending */
static int fgl_info(lua_State *L) {
    fgl_call c;
    fg_info info;
    memset(&info, 0, sizeof info);
    fgl_breaker *b = fgl_query_begin(L, "info", &c);
    fg_breaker_info(b->head.engine, &info);
    fgl_leave(L, b, &c);
    fgl_push_info(L, &info);
    lua_pushboolean(L, b->head.pending != 0);
    return 2;
}

void fgl_push_info(lua_State *L, const fg_info *i) {
    /* the name (the policy's) first: a collection step after an allocation
     * may finalize the breaker and its policy (see fgl_drain) */
    lua_pushstring(L, i->name);
    lua_createtable(L, 0, 12);
    lua_insert(L, -2);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, fg_state_name(i->state));
    lua_setfield(L, -2, "state");
    lua_pushnumber(L, i->changed_at);
    lua_setfield(L, -2, "changed_at");
    fgl_set_count(L, "reopens", i->reopens);
    fgl_set_count(L, "consecutive_failures", i->consecutive_failures);
    fgl_set_count(L, "generation", i->generation);
    fgl_set_count(L, "half_open_in_flight", i->half_open_in_flight);
    fgl_set_count(L, "transitions", i->transitions);
    lua_pushstring(L, fgl_clock_name(i->clock_kind));
    lua_setfield(L, -2, "clock");
    fgl_push_metric(L, &i->metric);
    lua_setfield(L, -2, "metrics");
    lua_createtable(L, 0, 7);
    fgl_set_count(L, "success", i->counters.success);
    fgl_set_count(L, "failure", i->counters.failure);
    fgl_set_count(L, "ignored", i->counters.ignored);
    fgl_set_count(L, "rejected", i->counters.rejected);
    fgl_set_count(L, "admitted", i->counters.admitted);
    fgl_set_count(L, "stale", i->counters.stale);
    fgl_set_count(L, "lease_expired", i->counters.lease_expired);
    lua_setfield(L, -2, "counters");
}

void fgl_push_signal(lua_State *L, const fgl_event *e, int extra_fields) {
    /* the reason (the policy's) first, before a collection step can run */
    lua_pushstring(L, e->reason != NULL ? e->reason : "");
    lua_createtable(L, 0, 7 + extra_fields);
    lua_insert(L, -2);
    lua_setfield(L, -2, "reason");
    lua_pushstring(L, fg_state_name(e->old_state));
    lua_setfield(L, -2, "old_state");
    lua_pushstring(L, fg_state_name(e->new_state));
    lua_setfield(L, -2, "new_state");
    lua_pushnumber(L, e->timestamp);
    lua_setfield(L, -2, "timestamp");
    fgl_pushcount(L, e->sequence);
    lua_setfield(L, -2, "sequence");
    fgl_push_metric(L, &e->metric);
    lua_setfield(L, -2, "metrics");
}

void fgl_push_parked_error(lua_State *L, fgl_breaker *host) {
    lua_pushnil(L);
    if ((host->head.flags & FGL_HAS_ENV) && host->side != NULL && host->side->errors > 0) {
        int at = lua_gettop(L);
        fgl_get_env(L, 1, host);
        lua_rawgeti(L, -1, FGL_ENV_ERROR);
        if (lua_toboolean(L, -1)) lua_replace(L, at);
        else lua_pop(L, 1);
        lua_pushboolean(L, 0);
        lua_rawseti(L, -2, FGL_ENV_ERROR);
        lua_pop(L, 1);
    }
}

/* drain(self [, signals]) -> signals|nil, error|nil, lost
 * Empties the queue. With `signals` true: an array of { old_state,
 * new_state, timestamp, reason, sequence, metrics }, in sequence order (nil
 * when the queue is empty); error: the first parked callback error; lost:
 * transitions the queue had no memory for. */
static int fgl_drain(lua_State *L) {
    fgl_breaker *b = fgl_to_breaker(L, 1);
    if (b == NULL) return luaL_argerror(L, 1, "fluxgate breaker expected");
    int want = lua_toboolean(L, 2);
    lua_settop(L, 1);
    fgl_side *s = b->side; /* NULL: nothing was ever queued or parked */
    uint32_t n = s != NULL ? s->event_count : 0;
    if (want && n > 0) {
        lua_createtable(L, (int)n, 0);
        /* Every allocation may take a collection step, and a step runs
         * finalizers: b's own too when b is already waiting for it (a
         * breaker found in a weak-keyed table after its last reference
         * was dropped is such a one, reachable again). Its close frees the
         * side and the queue, and may free the policy the reasons point
         * into. So each event is copied while b is seen open, and its
         * reason is the first thing pushed (fgl_push_signal); a breaker
         * closed meanwhile delivers no more. */
        for (uint32_t i = 0; i < n; i++) {
            s = b->side;
            if (s == NULL || i >= s->event_count) break;
            fgl_event e = s->events[i];
            fgl_push_signal(L, &e, 0);
            lua_rawseti(L, -2, (int)i + 1);
        }
    } else {
        lua_pushnil(L);
    }
    fgl_push_parked_error(L, b);
    s = b->side; /* once more: a finalizer may have freed it, see above */
    lua_pushinteger(L, (lua_Integer)(s != NULL ? s->lost : 0));
    /* Only now, after everything that could raise: */
    s = b->side;
    if (s != NULL) {
        s->event_count = 0;
        s->errors = 0;
        s->lost = 0;
    }
    b->head.pending = 0;
    return 3;
}

/* ---- every breaker, by name (fluxgate.prometheus) --------------------------------- */

/* The counters' positions in a name's array: 1 success, 2 failure,
 * 3 ignored, 4 rejected, then 5 + old * FG_STATE_COUNT + new for the
 * transitions -- the totals of closed families use it too. */
enum { FGL_COUNTERS = 4 + FG_STATE_COUNT * FG_STATE_COUNT };

static void fgl_add_counts(lua_State *L, int t, int first, const uint64_t *values, int n) {
    for (int k = 0; k < n; k++) {
        if (values[k] == 0) continue;
        lua_rawgeti(L, t, first + k);
        lua_Number have = lua_tonumber(L, -1);
        lua_pop(L, 1);
        fgl_pushcount(L, (lua_Integer)have + (lua_Integer)values[k]);
        lua_rawseti(L, t, first + k);
    }
}

/* Pushes by_name[name] = { counts = {...}, states = {...} }, making it. */
static void fgl_group(lua_State *L, int by_name, const char *name) {
    lua_getfield(L, by_name, name);
    if (!lua_isnil(L, -1)) return;
    lua_pop(L, 1);
    lua_createtable(L, 0, 2);
    lua_createtable(L, FGL_COUNTERS, 0);
    lua_setfield(L, -2, "counts");
    lua_pushvalue(L, -1);
    lua_setfield(L, by_name, name);
}

void fgl_add_group(lua_State *L, int by_name, const char *name, const fg_counters *c,
                   const uint64_t *states) {
    uint64_t values[FGL_COUNTERS];
    values[0] = c->success;
    values[1] = c->failure;
    values[2] = c->ignored;
    values[3] = c->rejected;
    for (int from = 0; from < FG_STATE_COUNT; from++)
        for (int to = 0; to < FG_STATE_COUNT; to++)
            values[4 + from * FG_STATE_COUNT + to] = c->transitions[from][to];
    int any = states != NULL;
    for (int k = 0; k < FGL_COUNTERS; k++) any |= values[k] != 0;
    if (!any) return; /* nothing live, nothing counted: no trace */
    if (by_name < 0) by_name = lua_gettop(L) + 1 + by_name;
    fgl_group(L, by_name, name);
    lua_getfield(L, -1, "counts");
    fgl_add_counts(L, lua_gettop(L), 1, values, FGL_COUNTERS);
    lua_pop(L, 1);
    if (states != NULL) {
        lua_getfield(L, -1, "states");
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_createtable(L, FG_STATE_COUNT, 0);
            lua_pushvalue(L, -1);
            lua_setfield(L, -3, "states");
        }
        fgl_add_counts(L, lua_gettop(L), 1, states, FG_STATE_COUNT);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* One open shared breaker as stats() found it. */
typedef struct fgl_snapshot {
    fg_info info;
    fg_policy *policy;  /* a reference: it owns info.name */
    const void *block;  /* what identifies its counters: its chain's root (fg_breaker_counters_id) */
} fgl_snapshot;

/* build(by_name, snapshots, count) -> seen: adds the shared breakers to
 * by_name; a shared breaker's chain of blocks counts once, however many
 * handles this state has on its blocks (seen: chain -> true). */
static int fgl_stats_build(lua_State *L) {
    const fgl_snapshot *snap = lua_touserdata(L, 2);
    size_t count = (size_t)lua_tonumber(L, 3);
    lua_settop(L, 3);
    lua_newtable(L); /* 4: seen */
    for (size_t i = 0; i < count; i++) {
        const fg_info *info = &snap[i].info;
        fgl_rawgetp(L, 4, snap[i].block);
        int seen = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (seen) continue;
        lua_pushlightuserdata(L, (void *)snap[i].block);
        lua_pushboolean(L, 1);
        lua_rawset(L, 4);
        uint64_t states[FG_STATE_COUNT] = {0};
        states[info->state] = 1;
        fgl_add_group(L, 1, info->name, &info->counters, states);
    }
    lua_settop(L, 4);
    return 1;
}

/* stats() -> { [name] = { counts = { [k] = n }, states = { [state] = n } | nil } }, seen
 * for every name: plain breakers from their name's counter sink (O(names),
 * closed and collected ones included: fluxgate_sink.c), the totals of
 * closed families, and every open shared breaker (walked: they are few;
 * their counters are the shared block's). states only for names that have
 * open breakers. seen: the shared breakers' chains counted (chain -> true),
 * so that the zones' walk (fluxgate/shared_family.lua) adds only the
 * others. */
static int fgl_stats(lua_State *L) {
    fgl_module *m = lua_touserdata(L, FGL_MODULE_UPVALUE);
    fgl_refuse_shared(L, m); /* it reads every shared breaker under its lock */
    lua_settop(L, 0);
    lua_newtable(L); /* 1: by name */
    fgl_getuservalue(L, FGL_MODULE_UPVALUE);
    lua_rawgeti(L, -1, 3); /* 3: the totals of closed families */
    lua_pushnil(L);
    while (lua_next(L, 3) != 0) {
        fgl_group(L, 1, lua_tostring(L, -2));
        lua_getfield(L, -1, "counts");
        for (int k = 1; k <= FGL_COUNTERS; k++) {
            lua_rawgeti(L, -3, k);
            lua_rawseti(L, -2, k);
        }
        lua_pop(L, 3);
    }
    lua_settop(L, 1);
    fgl_sink_stats(L, 1);
    /* The list of shared breakers is read in one go, without allocating
     * from Lua: building the tables allocates, a collection step may
     * finalize a breaker of the list, and fgl_close unlinks it under a
     * walker's feet. So: count, make room (this may collect: the list only
     * shrinks), copy every breaker's info -- keeping its policy, which owns
     * the name -- then build. */
    size_t n = 0;
    for (fgl_side *s = m->list.next; s != &m->list; s = s->next) n++;
    fgl_snapshot *snap = fgl_newuserdata(L, (n > 0 ? n : 1) * sizeof *snap, 0); /* 2 */
    size_t count = 0;
    for (fgl_side *s = m->list.next; s != &m->list && count < n; s = s->next) {
        fgl_breaker *b = s->owner;
        if (b->head.flags & FGL_FAMILY_KEY) continue; /* the family's totals count it */
        fgl_snapshot *e = &snap[count++];
        memset(&e->info, 0, sizeof e->info);
        fg_breaker_info(b->head.engine, &e->info); /* a Lua clock's last reading */
        e->policy = b->head.engine->policy;
        fg_policy_retain(e->policy);
        e->block = fg_breaker_counters_id(b->head.engine);
    }
    m->stats_visited += count;
    /* Nothing below may raise before the policies are released: the
     * tables are built under a protected call. */
    lua_pushcfunction(L, fgl_stats_build);
    lua_pushvalue(L, 1);
    lua_pushlightuserdata(L, snap);
    lua_pushnumber(L, (lua_Number)count);
    int rc = lua_pcall(L, 3, 1, 0); /* returns seen */
    for (size_t i = 0; i < count; i++) fg_policy_free(snap[i].policy);
    if (rc != 0) return lua_error(L);
    lua_replace(L, 2);
    lua_settop(L, 2);
    return 2;
}

/* stats_visited() -> how many breakers stats() has walked so far (shared
 * ones only: the specs hold plain breakers to O(names) with it). */
static int fgl_stats_visited(lua_State *L) {
    fgl_module *m = lua_touserdata(L, FGL_MODULE_UPVALUE);
    fgl_push_u64(L, m->stats_visited);
    return 1;
}

/* side_count() -> how many breakers and families hold a side structure
 * now (fluxgate_lua.h's fgl_side: the specs check that close frees it). */
static int fgl_side_count(lua_State *L) {
    fgl_module *m = lua_touserdata(L, FGL_MODULE_UPVALUE);
    fgl_push_u64(L, m->sides);
    return 1;
}

/* block_address(cb) -> the address of the block the breaker drives now, an
 * integer (the specs check that a plain breaker's starts a cache line:
 * fluxgate_lua.h, FGL_BLOCK_LINE). */
static int fgl_block_address(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1, "block_address");
    fgl_push_u64(L, (uint64_t)(uintptr_t)fg_breaker_live(b->head.engine)->block);
    return 1;
}

const luaL_Reg fgl_query_funcs[] = {
    {"state", fgl_state}, {"command", fgl_command}, {"info", fgl_info},
    {"stats", fgl_stats}, {"drain", fgl_drain},     {"stats_visited", fgl_stats_visited},
    {"side_count", fgl_side_count}, {"block_address", fgl_block_address}, {NULL, NULL}};
