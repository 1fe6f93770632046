/*
 * fg_policy.c -- a compiled policy's life and queries: reference counting,
 * breaker lookup, and the readable listing that `fluxgate disasm` prints.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_compile_internal.h"

size_t fg_policy_breaker_count(const fg_policy *policy) {
    return policy == NULL ? 0 : policy->breaker_count;
}

const char *fg_policy_breaker_name(const fg_policy *policy, size_t index) {
    if (policy == NULL || index >= policy->breaker_count) return NULL;
    return policy->breakers[index].name;
}

long fg_policy_find_breaker(const fg_policy *policy, const char *name) {
    if (policy == NULL || name == NULL) return -1;
    for (size_t i = 0; i < policy->breaker_count; i++)
        if (strcmp(policy->breakers[i].name, name) == 0) return (long)i;
    return -1;
}

void fg_policy_retain(fg_policy *policy) {
    if (policy != NULL) atomic_fetch_add_explicit(&policy->refs, 1u, memory_order_relaxed);
}

void fg_policy_destroy(fg_policy *policy) {
    fg_allocator a = policy->alloc;
    for (size_t i = 0; i < policy->program_count; i++) fg_program_free(policy->programs[i], &a);
    fg_arena_free(policy->arena);
    fg_alloc_free(&a, policy, sizeof *policy);
}

void fg_policy_free(fg_policy *policy) {
    if (policy == NULL) return;
    /* acq_rel: the last owner must see every other owner's last use. */
    if (atomic_fetch_sub_explicit(&policy->refs, 1u, memory_order_acq_rel) == 1u)
        fg_policy_destroy(policy);
}

/* snprintf-style appending (the length counts what the whole text needs). */
typedef struct fg_listing {
    char *buf;
    size_t cap, len;
} fg_listing;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void fg_listing_printf(fg_listing *l, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *at = l->len < l->cap ? l->buf + l->len : NULL;
    int n = vsnprintf(at, at ? l->cap - l->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) l->len += (size_t)n;
}

/* Appends a program's listing, snprintf-style like fg_listing_printf. */
static void fg_listing_program(fg_listing *l, const fg_program *p) {
    char *at = l->len < l->cap ? l->buf + l->len : NULL;
    l->len += fg_program_disassemble(p, at, at ? l->cap - l->len : 0);
}

size_t fg_policy_disassemble(const fg_policy *policy, size_t index, char *buf, size_t cap) {
    fg_listing l = {buf, cap, 0};
    if (cap > 0) buf[0] = '\0';
    if (policy == NULL || index >= policy->breaker_count) return 0;
    const fg_breaker_def *d = &policy->breakers[index];
    fg_listing_printf(&l, "breaker %s\n", d->name);
    fg_listing_printf(&l, "window  %s\n", d->window.text);
    fg_listing_printf(&l, "tracker %s\n", fg_program_text(d->tracker));
    fg_listing_printf(&l, "tripper %s\n", fg_program_text(d->tripper));
    fg_listing_printf(&l, "retry   %s\n", d->retry.text);
    fg_listing_printf(&l, "permit  %s\n", d->permit.text);
    fg_listing_printf(&l, "max_half_open_calls %u\n", (unsigned)d->max_half_open_calls);
    fg_listing_printf(&l, "half_open_lease %g\n", d->half_open_lease);
    fg_listing_printf(&l, "\n");
    fg_listing_program(&l, d->tracker);
    fg_listing_printf(&l, "\n");
    fg_listing_program(&l, d->tripper);
    return l.len;
}
