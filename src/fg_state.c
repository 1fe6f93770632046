/*
 * fg_state.c -- state names (expanded from FG_STATE_LIST, the one place
 * they are spelled) and the library version.
 */
#include <string.h>

#include "fluxgate.h"

static const char *const fg_state_names[FG_STATE_COUNT] = {
#define FG_X(id, name) [FG_STATE_##id] = name,
    FG_STATE_LIST(FG_X)
#undef FG_X
};

const char *fg_state_name(fg_state state) {
    if ((unsigned)state >= FG_STATE_COUNT) return "unknown";
    return fg_state_names[state];
}

int fg_state_from_name(const char *name) {
    if (name == NULL) return -1;
    for (int i = 0; i < FG_STATE_COUNT; i++)
        if (strcmp(fg_state_names[i], name) == 0) return i;
    return -1;
}

const char *fg_version(void) {
    return FG_VERSION;
}
