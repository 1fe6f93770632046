/*
 * fluxgate_name.c -- which breaker names the Lua binding accepts: valid
 * UTF-8 without NUL bytes. A name becomes a Prometheus label value, and
 * the text exposition must be UTF-8 (one bad name would make promtool and
 * Prometheus refuse the whole scrape); a NUL would silently cut the name
 * wherever C reads it. So a breaker with such a name is refused when it is
 * made, with the offset of the first bad byte.
 */
#include <string.h>

#include "fluxgate_lua.h"

/* How many continuation bytes a lead byte takes and the smallest code
 * point the sequence may encode (no overlong forms); 0 for a byte that
 * cannot start one. */
static int fgl_utf8_lead(unsigned char c, uint32_t *min) {
    if (c < 0x80) { *min = 0; return 0; }
    if (c >= 0xC2 && c <= 0xDF) { *min = 0x80; return 1; }
    if (c >= 0xE0 && c <= 0xEF) { *min = 0x800; return 2; }
    if (c >= 0xF0 && c <= 0xF4) { *min = 0x10000; return 3; }
    return -1;
}

/* *offset is the first byte of the offending sequence. */
const char *fgl_name_problem(const char *s, size_t n, size_t *offset) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        *offset = i + 1;
        if (c == 0) return "a NUL byte";
        uint32_t min;
        int more = fgl_utf8_lead(c, &min);
        if (more < 0) return "invalid UTF-8";
        if (more == 0) { i++; continue; }
        uint32_t cp = c & (0x3Fu >> more);
        for (int k = 1; k <= more; k++) {
            if ((size_t)k >= n - i) return "truncated UTF-8";
            unsigned char d = (unsigned char)s[i + (size_t)k];
            if ((d & 0xC0) != 0x80) return "invalid UTF-8";
            cp = cp << 6 | (d & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return "invalid UTF-8";
        i += (size_t)more + 1;
    }
    return NULL;
}

int fgl_definition_problem(lua_State *L, const fg_policy *policy, lua_Integer index) {
    if (index < 0 || fg_breaker_footprint(policy, (size_t)index) == 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "the policy has no breaker #%d", (int)index);
        return 2;
    }
    const char *name = fg_policy_breaker_name(policy, (size_t)index);
    size_t bad_at = 0;
    const char *problem = fgl_name_problem(name, strlen(name), &bad_at);
    if (problem == NULL) return 0;
    lua_pushnil(L);
    lua_pushfstring(L, "name:1:%d: error: %s in the breaker name at byte %d (names must be UTF-8)",
                    (int)bad_at, problem, (int)bad_at);
    return 2;
}
