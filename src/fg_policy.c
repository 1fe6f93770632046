/*
 * fg_policy.c -- a compiled policy's life and queries: reference counting,
 * breaker lookup, and the readable listing that `fluxgate disasm` prints.
 */
#include <string.h>

#include "fg_alloc.h"
#include "fg_compile_internal.h"
#include "fg_text.h"

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

/* Appends a program's listing (fg_program_disassemble is snprintf-style too). */
static void fg_listing_program(fg_text *l, const fg_program *p) {
    size_t room;
    char *at = fg_text_end(l, &room);
    l->len += fg_program_disassemble(p, at, room);
}

size_t fg_policy_disassemble(const fg_policy *policy, size_t index, char *buf, size_t cap) {
    fg_text l = fg_text_into(buf, cap);
    if (policy == NULL || index >= policy->breaker_count) return 0;
    const fg_breaker_def *d = &policy->breakers[index];
    fg_text_printf(&l, "breaker %s\n", d->name);
    fg_text_printf(&l, "window  %s\n", d->window.text);
    fg_text_printf(&l, "tracker %s\n", fg_program_text(d->tracker));
    fg_text_printf(&l, "tripper %s\n", fg_program_text(d->tripper));
    fg_text_printf(&l, "retry   %s\n", d->retry.text);
    fg_text_printf(&l, "permit  %s\n", d->permit.text);
    fg_text_printf(&l, "max_half_open_calls %u\n", (unsigned)d->max_half_open_calls);
    fg_text_printf(&l, "half_open_lease %g\n", d->half_open_lease);
    fg_text_printf(&l, "\n");
    fg_listing_program(&l, d->tracker);
    fg_text_printf(&l, "\n");
    fg_listing_program(&l, d->tripper);
    return l.len;
}
