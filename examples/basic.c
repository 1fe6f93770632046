/*
 * basic.c -- fluxgate-c from C in one page: compile a policy, make a breaker,
 * protect calls with acquire/release, and listen to transitions.
 *
 *   make examples && ./build/examples/basic
 *
 * The "service" here fails on purpose for a while so that the breaker trips;
 * a simulated clock (a plain double) moves time forward so that the example
 * runs instantly and prints the same thing every time.
 */
#include <stdio.h>
#include <string.h>

#include "fluxgate.h"

static const char policy_text[] =
    "tracker transport = TypeOf(\"timeout\") | Status(500..599)\n"
    "breaker payment_api {\n"
    "    tracker = transport\n"
    "    tripper = FailureStreak(3) | (MinRequests(10) & FailureRate(50%))\n"
    "    retry   = Cooldown(30s)\n"
    "    permit  = All()\n"
    "}\n";

/* The breaker reads time through this; by default, a monotonic clock. */
static double simulated_clock(void *ud) {
    return *(const double *)ud;
}

/* Runs on the thread that caused the transition, after the breaker's lock is
 * released, so it may call back into the breaker. */
static void print_transition(void *ud, const fg_transition *t) {
    (void)ud;
    printf("  [%s] %s -> %s at t=%.0f because %s (window: %llu calls, %llu failures)\n", t->breaker,
           fg_state_name(t->old_state), fg_state_name(t->new_state), t->timestamp, t->reason,
           (unsigned long long)t->metric.total_count, (unsigned long long)t->metric.failure_count);
}

/* A pretend remote call: answers 503 while `down` is set. */
static fg_outcome call_payment_service(int down) {
    fg_outcome o;
    memset(&o, 0, sizeof o);
    o.has_status = 1;
    o.status = down ? 503 : 200;
    return o;
}

int main(void) {
    fg_report *report = NULL;
    fg_policy *policy = fg_policy_compile(policy_text, strlen(policy_text), "example.fgp", NULL, &report);
    if (policy == NULL) {
        char buf[2048];
        fg_report_format(report, buf, sizeof buf);
        fprintf(stderr, "%s", buf);
        fg_report_free(report);
        return 1;
    }
    fg_report_free(report);

    double now = 0.0;
    fg_breaker_options options = FG_BREAKER_OPTIONS_INIT; /* every default; set what differs */
    options.clock = simulated_clock;
    options.clock_ud = &now;

    char err[256];
    fg_breaker *breaker = fg_breaker_new_named(policy, "payment_api", &options, err, sizeof err);
    fg_policy_free(policy); /* the breaker holds its own reference */
    if (breaker == NULL) {
        /* e.g. "example.fgp: error: no breaker named 'x'; it defines 'payment_api'" */
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    fg_breaker_add_listener(breaker, print_transition, NULL);

    for (int i = 0; i < 12; i++, now += 5.0) {
        int down = i >= 2 && i < 6; /* the service is down from t=10 to t=25 */
        fg_ticket ticket;
        if (!fg_breaker_acquire(breaker, &ticket)) {
            printf("t=%2.0f rejected (%s), retry after %.0f s\n", now, fg_state_name(ticket.state),
                   ticket.retry_after);
            continue;
        }
        fg_outcome outcome = call_payment_service(down);
        fg_verdict verdict = fg_breaker_release(breaker, &ticket, &outcome, 0.120);
        printf("t=%2.0f status %lld -> %s\n", now, (long long)outcome.status,
               verdict == FG_VERDICT_SUCCESS ? "success" : verdict == FG_VERDICT_FAILURE ? "failure" : "other");
    }

    fg_info info;
    fg_breaker_info(breaker, &info);
    printf("%s is %s: %llu successes, %llu failures, %llu rejected\n", info.name, fg_state_name(info.state),
           (unsigned long long)info.counters.success, (unsigned long long)info.counters.failure,
           (unsigned long long)info.counters.rejected);
    fg_breaker_free(breaker);
    return 0;
}
