/*
 * fg_test_hooks.c -- what the real-nginx test (tests/nginx) reaches through
 * LuaJIT's FFI beyond the public API, built as fluxgate_test_hooks.so next to
 * the tested Lua tree by make test-nginx only, never installed: fluxgate.core
 * exports nothing but its luaopen_ function and the public API.
 *
 * The hook works on a breaker that fluxgate.core made: it carries its own
 * copy of the engine's code (libfluxgate.a), and the engine keeps no global
 * state, so everything it touches is reached through the breaker itself.
 */
#include "fg_breaker_shared.h"

#define FG_TEST_HOOK __attribute__((visibility("default")))

/* Takes the lock of the breaker's block as a record would and keeps it (the
 * caller then gets killed): the endpoint /_test/hold of fg_harness.lua. */
FG_TEST_HOOK void fg_nginx_test_hold_lock(fg_breaker *h);

void fg_nginx_test_hold_lock(fg_breaker *h) {
    fg_breaker_test_hold_lock(h);
}
