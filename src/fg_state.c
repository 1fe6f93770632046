/*
 * fg_state.c -- state names (expanded from FG_STATE_LIST, the one place
 * they are spelled), the compile-time check that fluxgate.h's fg_state enum
 * matches that list, and the library version.
 */
#include <string.h>

#include "fluxgate.h"

/* fluxgate.h spells the fg_state enum out by hand, because LuaJIT's ffi.cdef
 * reads that part of the header and cannot expand a macro. These asserts tie
 * it to FG_STATE_LIST: an enumerator the list names but the enum lacks does
 * not compile, one in another place fails its assert, and an extra one
 * changes the count. */
enum {
#define FG_X(id, name) FG_STATE_LISTED_##id,
    FG_STATE_LIST(FG_X)
#undef FG_X
    FG_STATE_LISTED_COUNT
};
#define FG_X(id, name)                                                                      \
    _Static_assert((int)FG_STATE_##id == (int)FG_STATE_LISTED_##id,                                   \
                   "fg_state enumerator FG_STATE_" #id " is not where FG_STATE_LIST puts it");
FG_STATE_LIST(FG_X)
#undef FG_X
_Static_assert((int)FG_STATE_COUNT == (int)FG_STATE_LISTED_COUNT,
               "fluxgate.h's fg_state enum and FG_STATE_LIST differ in length");

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
