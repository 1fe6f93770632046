# mk/nginx.mk -- fluxgate.nginx in a real nginx: Debian's nginx and Lua module.
#
#   make test-nginx    tests/nginx/run.sh: 2 workers on free 127.0.0.1 ports, its
#                      own prefix under $(BUILD)/nginx, scenarios with asserts
#                      (under a minute; everything it starts it stops); then
#                      tests/nginx/docs.sh: the docs' nginx snippets, run as
#                      printed (a few seconds, prefix $(BUILD)/nginx-docs)
#   make bench-nginx   worker CPU per request with and without the breaker
#
# Under SANITIZE=1 nginx runs with the ASan runtime preloaded and the
# instrumented modules; under SANITIZE=thread with the plain ones.
.PHONY: test-nginx bench-nginx nginx-hooks-plain

NGINX_LUADIR = $(word 2,$(LUA_TESTED_TREES))
NGINX_ENV = $(if $(filter 1,$(SANITIZE)),FG_NGINX_PRELOAD="$(shell $(CC) -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0)
NGINX_READY = [ -x /usr/sbin/nginx ] && [ -f $(NGINX_MODULES)/ngx_http_lua_module.so ] && [ -f /usr/share/lua/5.1/resty/core.lua ]

# The test's debug hook (take a shared breaker's lock and keep it, so that the
# test can SIGKILL a worker holding it) is not part of fluxgate.core's exports:
# a small library beside the tested tree, built for the test only, never installed.
NGINX_HOOKS = $(NGINX_LUADIR)/fluxgate_test_hooks.so
DEP_FILES += $(BUILD)/luajit/fluxgate_test_hooks.so.d

$(BUILD)/luajit/fluxgate_test_hooks.so: tests/nginx/fg_test_hooks.c $(LIB_A) | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS_ALL) $(HIDDEN) $(WARN) $(LINKDEP) -shared $< -o $@ $(LIB_A) $(LDLIBS_ALL)

# Under SANITIZE=thread the tested tree is the plain one in build/.
nginx-hooks-plain:
	@$(MAKE) --no-print-directory SANITIZE= build/luajit/fluxgate_test_hooks.so

test-nginx: $(LUA_FOR_TESTS) $(if $(filter thread,$(SANITIZE)),nginx-hooks-plain,$(NGINX_HOOKS))
	@if ! { $(NGINX_READY); }; then \
	  if [ -z "$(DEB_NGINX)" ]; then \
	    echo "test-nginx: SKIPPED: nginx's Lua module needs OpenResty's LuaJIT (luajit2), and Debian's LuaJIT is installed here"; exit 0; fi; \
	  echo "test-nginx: nginx, its Lua module or lua-resty-core is missing: make deps"; exit 1; fi; \
	echo "== nginx (tests/nginx/run.sh)"; \
	$(NGINX_ENV) timeout 110 bash tests/nginx/run.sh $(BUILD)/nginx $(NGINX_LUADIR) || rc=1; \
	echo "== nginx: the documentation's snippets (tests/nginx/docs.sh)"; \
	$(NGINX_ENV) timeout 30 bash tests/nginx/docs.sh $(BUILD)/nginx-docs $(NGINX_LUADIR) || rc=1; \
	exit $${rc:-0}

bench-nginx: lua
	@if [ -n "$(SANITIZE)" ]; then echo "make bench-nginx measures the optimised build: run it without SANITIZE"; exit 1; fi
	@$(NGINX_READY) || { echo "bench-nginx: nginx, its Lua module or lua-resty-core is missing: make deps"; exit 1; }
	timeout 110 bash bench/nginx_bench.sh $(BUILD)/nginx-bench $(LUAJIT_DIR)
