/*
 * fluxgate_query.c -- reading breakers from Lua: state, info (metrics as Lua tables),
 * the counters Prometheus exports, the manual commands, and draining the
 * transition queue into listener signals.
 */
#include "fluxgate_lua.h"

/* ---- breakers: queries and commands ---------------------------------------- */

/* state(breaker [, now]) -> state name */
static int fgl_state(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    lua_settop(L, 2);
    double now = 0.0;
    fgl_enter(L, b, 2, &now);
    fg_state s = fg_breaker_state(b->shared.breaker);
    fgl_leave(L, b);
    lua_pushstring(L, fg_state_name(s));
    return 1;
}

/* command(breaker, now|nil, op) -> pending; op 0 reset, 1 disable,
 * 2 metrics_only, 3 force_open */
static int fgl_command(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    lua_settop(L, 3);
    lua_Integer op = luaL_checkinteger(L, 3);
    luaL_argcheck(L, op >= 0 && op <= 3, 3, "unknown command");
    double now = 0.0;
    fgl_enter(L, b, 2, &now);
    switch (op) {
    case 0: fg_breaker_reset(b->shared.breaker); break;
    case 1: fg_breaker_disable(b->shared.breaker); break;
    case 2: fg_breaker_metrics_only(b->shared.breaker); break;
    default: fg_breaker_force_open(b->shared.breaker); break;
    }
    fgl_leave(L, b);
    lua_pushinteger(L, fgl_pending(b));
    return 1;
}

/* Pushes a metric as info() shows it: averages and rates are nil when the
 * window is empty, slow_counts is keyed by threshold. */
static void fgl_push_metric(lua_State *L, const fg_metric *m) {
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

/* info(breaker [, now]) -> { name, state, changed_at, reopens,
 *   consecutive_failures, generation, half_open_in_flight, metrics } */
static int fgl_info(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    lua_settop(L, 2);
    double now = 0.0;
    fg_info info;
    fgl_enter(L, b, 2, &now);
    fg_breaker_info(b->shared.breaker, &info);
    fgl_leave(L, b);
    lua_createtable(L, 0, 8);
    lua_pushstring(L, info.name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, fg_state_name(info.state));
    lua_setfield(L, -2, "state");
    lua_pushnumber(L, info.changed_at);
    lua_setfield(L, -2, "changed_at");
    fgl_pushcount(L, info.reopens);
    lua_setfield(L, -2, "reopens");
    fgl_pushcount(L, info.consecutive_failures);
    lua_setfield(L, -2, "consecutive_failures");
    fgl_push_u64(L, info.generation);
    lua_setfield(L, -2, "generation");
    fgl_pushcount(L, info.half_open_in_flight);
    lua_setfield(L, -2, "half_open_in_flight");
    fgl_push_metric(L, &info.metric);
    lua_setfield(L, -2, "metrics");
    return 1;
}

/* stats(breaker) -> name, state, success, failure, ignored, rejected,
 *   transitions (an array: [old * FG_STATE_COUNT + new + 1] = count)
 * For the Prometheus exposition; uses the breaker's last clock reading. */
static int fgl_stats(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    double now = 0.0;
    fg_info info;
    lua_settop(L, 1);
    fgl_enter(L, b, 2, &now);
    fg_breaker_info(b->shared.breaker, &info);
    fgl_leave(L, b);
    lua_pushstring(L, info.name);
    lua_pushinteger(L, (lua_Integer)info.state);
    fgl_pushcount(L, info.counters.success);
    fgl_pushcount(L, info.counters.failure);
    fgl_pushcount(L, info.counters.ignored);
    fgl_pushcount(L, info.counters.rejected);
    lua_createtable(L, FG_STATE_COUNT * FG_STATE_COUNT, 0);
    for (int from = 0; from < FG_STATE_COUNT; from++) {
        for (int to = 0; to < FG_STATE_COUNT; to++) {
            fgl_pushcount(L, info.counters.transitions[from][to]);
            lua_rawseti(L, -2, from * FG_STATE_COUNT + to + 1);
        }
    }
    return 7;
}

/* drain(breaker) -> signals, dropped, error
 * signals: an array of { old_state, new_state, timestamp, reason, metrics }
 * taken from the queue (which is emptied); dropped: transitions lost to a
 * full queue; error: the first parked callback error, or nil. */
static int fgl_drain(lua_State *L) {
    fgl_breaker *b = fgl_check_breaker(L, 1);
    fgl_shared *s = &b->shared;
    uint32_t n = s->count;
    lua_createtable(L, (int)n, 0);
    for (uint32_t i = 0; i < n; i++) {
        const fgl_event *e = &s->events[i];
        lua_createtable(L, 0, 6);
        lua_pushstring(L, fg_state_name((fg_state)e->old_state));
        lua_setfield(L, -2, "old_state");
        lua_pushstring(L, fg_state_name((fg_state)e->new_state));
        lua_setfield(L, -2, "new_state");
        lua_pushnumber(L, e->timestamp);
        lua_setfield(L, -2, "timestamp");
        lua_pushstring(L, e->reason != NULL ? e->reason : "");
        lua_setfield(L, -2, "reason");
        fgl_push_metric(L, &e->metric);
        lua_setfield(L, -2, "metrics");
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_pushinteger(L, (lua_Integer)s->dropped);
    fgl_getuservalue(L, 1);
    lua_rawgeti(L, -1, FGL_ENV_ERROR);
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
    lua_pushboolean(L, 0);
    lua_rawseti(L, -3, FGL_ENV_ERROR);
    lua_remove(L, -2);
    /* Only now, after everything that could raise: */
    s->count = 0;
    s->dropped = 0;
    s->errors = 0;
    return 3;
}

const luaL_Reg fgl_query_funcs[] = {
    {"state", fgl_state}, {"command", fgl_command}, {"info", fgl_info},
    {"stats", fgl_stats}, {"drain", fgl_drain},     {NULL, NULL}};
