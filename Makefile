# fluxgate-c -- the only build entry point.
#
#   make            libfluxgate.a, libfluxgate.so, the fluxgate tool, the Lua modules
#   make demo       see it work: simulate the payment policy on an outage trace
#   make test       every test (C units, Lua conformance on Lua 5.4 and LuaJIT, CLI goldens,
#                   fluxgate.nginx in a real nginx)
#   make test SANITIZE=1        the same under ASan + UBSan (build in build/asan)
#   make test SANITIZE=thread   the thread tests under TSan (build in build/tsan)
#   make bench      benchmarks, printed as ratios against baselines of the same run
#   make bench-nginx   nginx worker CPU per request with and without fluxgate.nginx
#   make install PREFIX=/usr/local DESTDIR=
#   make deps       install the Debian packages needed to build and test
#   make clean
#
# Generated sources (bison, flex) go to $(BUILD)/gen, never into git.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
WERROR ?= 0
SANITIZE ?=

ifeq ($(SANITIZE),1)
  BUILD ?= build/asan
  SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(SANITIZE),thread)
  BUILD ?= build/tsan
  SAN_FLAGS = -fsanitize=thread -fno-omit-frame-pointer
else ifeq ($(SANITIZE),fuzzer)
  # Only for `make fuzz` (CC=clang): the library instrumented for libFuzzer.
  BUILD ?= build/fuzz
  SAN_FLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
  BUILD ?= build
  SAN_FLAGS =
endif

OPT ?= -O2 -g
WARN = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(WERROR),1)
  WARN += -Werror
endif
CPPFLAGS += -Iinclude -Isrc -I$(BUILD)/gen -D_POSIX_C_SOURCE=200809L
CFLAGS_ALL = -std=c11 $(OPT) -fPIC -pthread $(SAN_FLAGS) $(CFLAGS)
LDLIBS_ALL = -lm -pthread $(LDLIBS)
# Generated code is not ours: relax only what flex/bison output trips over.
GEN_WARN = -Wall -Wno-unused-function -Wno-unused-parameter -Wno-sign-compare -Wno-missing-prototypes

# ---- the library ---------------------------------------------------------
LIB_SRCS := $(wildcard src/*.c)
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
GEN_OBJS := $(BUILD)/obj/gen_parser.o $(BUILD)/obj/gen_lexer.o
LIB_A    := $(BUILD)/libfluxgate.a
LIB_SO   := $(BUILD)/libfluxgate.so

.PHONY: all lib clean test test-c deps check-deps bench demo install
all: lib

lib: $(LIB_A) $(LIB_SO)

$(BUILD)/gen/parser.c $(BUILD)/gen/parser.h: grammar/parser.y | check-deps
	@mkdir -p $(BUILD)/gen
	bison -Wall -Werror --defines=$(BUILD)/gen/parser.h -o $(BUILD)/gen/parser.c $<

$(BUILD)/gen/lexer.c $(BUILD)/gen/lexer.h: grammar/lexer.l $(BUILD)/gen/parser.h | check-deps
	@mkdir -p $(BUILD)/gen
	flex --header-file=$(BUILD)/gen/lexer.h -o $(BUILD)/gen/lexer.c $<

$(BUILD)/obj/gen_parser.o: $(BUILD)/gen/parser.c $(BUILD)/gen/lexer.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS_ALL) $(GEN_WARN) -c $< -o $@

$(BUILD)/obj/gen_lexer.o: $(BUILD)/gen/lexer.c $(BUILD)/gen/parser.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS_ALL) $(GEN_WARN) -c $< -o $@

# The generated parser and scanner include the front end's headers (fg_parse.h:
# the nesting limit, the parser's stack size): rebuild them when those change.
$(GEN_OBJS): $(wildcard src/*.h) include/fluxgate.h

# Our own sources may include the generated headers, so they wait for them.
$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) include/fluxgate.h $(BUILD)/gen/parser.h $(BUILD)/gen/lexer.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS_ALL) $(WARN) -c $< -o $@

$(LIB_A): $(LIB_OBJS) $(GEN_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(LIB_OBJS) $(GEN_OBJS)
	$(CC) -shared $(CFLAGS_ALL) -Wl,-soname,libfluxgate.so.0 -o $@ $^ $(LDLIBS_ALL)

# ---- C unit tests (cmocka) -------------------------------------------------
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)

$(BUILD)/tests/%: tests/%.c $(LIB_A) $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS_ALL) $(WARN) $< -o $@ $(LIB_A) -lcmocka $(LDLIBS_ALL)

test-c: $(TEST_BINS)
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; $$t; done

test: check-deps test-c

# ---- dependencies -----------------------------------------------------------
# Debian packages for building and testing; `make deps` installs them.
# LuaJIT: OpenResty's luajit2 serves our tests and nginx's Lua module alike
# (libnginx-mod-http-lua needs libluajit2-5.1-2), while Debian's luajit
# conflicts with that module. So luajit2, unless Debian's LuaJIT library is
# already installed: then that one stays. No install step ever removes a
# package (--no-remove): apt fails instead of taking nginx's Lua module away.
DEB_LUAJIT = $(shell dpkg-query -W -f='$${Status}' libluajit-5.1-2 2>/dev/null | grep -q 'ok installed' \
               && echo luajit libluajit-5.1-dev || echo luajit2 libluajit2-5.1-dev)
# nginx's Lua module (for make test-nginx) needs OpenResty's LuaJIT, so it
# comes only with luajit2: beside Debian's LuaJIT it could not be installed
# without removing that, and test-nginx says it was skipped and why.
NGINX_MODULES ?= /usr/lib/nginx/modules
DEB_NGINX = $(if $(filter luajit2,$(DEB_LUAJIT)),nginx libnginx-mod-http-lua lua-resty-core)
DEB_PACKAGES = build-essential flex bison pkg-config libcmocka-dev lua5.4 liblua5.4-dev \
               $(DEB_LUAJIT) lua-busted luarocks libxml2-utils valgrind clang libclang-rt-14-dev time \
               curl wrk $(DEB_NGINX)

# Debian's nginx package starts a system nginx on port 80 when it is
# installed. Only the tests start nginx, on their own ports: while apt runs, a
# policy-rc.d (only when the machine has none) refuses nginx alone, and a
# system nginx that this run installed is not enabled at boot either.
deps:
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "make deps needs root: sudo apt-get install -y --no-remove $(DEB_PACKAGES)"; exit 1; fi
	apt-get update
	@set -e; fresh=; dpkg-query -W -f='$${Status}' nginx 2>/dev/null | grep -q 'ok installed' || fresh=1; \
	guard=; if [ ! -e /usr/sbin/policy-rc.d ]; then guard=/usr/sbin/policy-rc.d; \
	  printf '%s\n' '#!/bin/sh' '# written by fluxgate-c make deps for the length of one apt-get run' \
	    'case "$$1" in nginx|nginx.service) exit 101;; esac' 'exit 0' > $$guard; chmod 755 $$guard; \
	  trap 'rm -f $$guard' EXIT; fi; \
	echo "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-remove --no-install-recommends $(DEB_PACKAGES)"; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-remove --no-install-recommends $(DEB_PACKAGES); \
	if [ -n "$$fresh" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then \
	  systemctl disable --now nginx >/dev/null 2>&1 || true; fi

# Installs what is missing when we are root; otherwise says exactly what to run.
check-deps:
	@missing=""; \
	for tool in flex bison lua5.4 luajit pkg-config busted luarocks xmllint; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	[ -f /usr/include/cmocka.h ] || missing="$$missing cmocka"; \
	[ -x /usr/bin/time ] || missing="$$missing time"; \
	[ -f /usr/include/lua5.4/lua.h ] || missing="$$missing liblua5.4-dev"; \
	[ -f /usr/include/luajit-2.1/lua.h ] || missing="$$missing libluajit-5.1-dev"; \
	for tool in curl wrk; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$(DEB_NGINX)" ]; then \
	  [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	  [ -f $(NGINX_MODULES)/ngx_http_lua_module.so ] || missing="$$missing libnginx-mod-http-lua"; \
	  [ -f /usr/share/lua/5.1/resty/core.lua ] || missing="$$missing lua-resty-core"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "missing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory deps; \
	  else echo "run: sudo apt-get install -y --no-remove $(DEB_PACKAGES)"; exit 1; fi; \
	fi

clean:
	rm -rf build

# ---- benchmarks, fuzzing, valgrind (see HACKING.md, "Benchmarks", "Fuzzing", "valgrind") ----
# make bench                    the C benchmark (optimised, no sanitizer), then bench-lua if defined
# make fuzz FUZZ_SECONDS=N      every tests/fuzz/fuzz_*.c for N seconds each (clang + libFuzzer)
# make valgrind                 every C test binary under valgrind's memcheck
# make test-sanitize            make test SANITIZE=1, then the C tests under SANITIZE=thread
.PHONY: fuzz fuzz-build valgrind test-sanitize
BENCH_SRCS := $(wildcard bench/*.c)

$(BUILD)/bench/bench_core: $(BENCH_SRCS) $(wildcard bench/*.h) tests/fg_payment_policy.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Ibench -Itests $(CFLAGS_ALL) $(WARN) $(BENCH_SRCS) -o $@ $(LIB_A) $(LDLIBS_ALL)

bench:
	@if [ -n "$(SANITIZE)" ]; then echo "make bench measures the optimised build: run it without SANITIZE"; exit 1; fi
	@$(MAKE) --no-print-directory $(BUILD)/bench/bench_core
	$(BUILD)/bench/bench_core
	@if grep -q '^bench-lua:' $(MAKEFILE_LIST); then $(MAKE) --no-print-directory bench-lua; fi

FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZERS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

fuzz:
	@$(MAKE) --no-print-directory SANITIZE=fuzzer CC=$(FUZZ_CC) fuzz-build
	@bash tests/fuzz/make_corpus.sh build/fuzz/seeds
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS) build/fuzz $(FUZZERS)

fuzz-build: $(FUZZERS:%=$(BUILD)/%)

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_A)
	$(CC) $(CPPFLAGS) $(CFLAGS_ALL) $(WARN) -fsanitize=fuzzer $< -o $@ $(LIB_A) $(LDLIBS_ALL)

# The trace reader is the tool's, not the library's: link it directly.
$(BUILD)/fuzz_trace: tests/fuzz/fuzz_trace.c cli/fg_trace.c cli/fg_trace.h
	$(CC) $(CPPFLAGS) -Icli $(CFLAGS_ALL) $(WARN) -fsanitize=fuzzer tests/fuzz/fuzz_trace.c cli/fg_trace.c -o $@ $(LDLIBS_ALL)

# cmocka runs tests in-process (no fork), so memcheck sees every allocation.
VALGRIND = valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
           --errors-for-leak-kinds=definite,indirect --error-exitcode=1
valgrind:
	@if [ -n "$(SANITIZE)" ]; then echo "make valgrind runs the plain build: run it without SANITIZE"; exit 1; fi
	@$(MAKE) --no-print-directory $(TEST_BINS)
	@set -e; for t in $(TEST_BINS); do echo "== valgrind $$t"; FG_STRESS_SECONDS=1 $(VALGRIND) $$t; done

test-sanitize:
	$(MAKE) --no-print-directory test SANITIZE=1
	$(MAKE) --no-print-directory test-c SANITIZE=thread


# ---- the fluxgate tool, example policies, demo (see doc/fluxgate.1 and README.md, "Set-up") ----
# make cli           $(BUILD)/fluxgate (cli/*.c linked against libfluxgate.a)
# make demo          simulate policies/payment.fgp on the outage trace; SVG in $(BUILD)/demo.svg
# make test-cli      golden tests of check/disasm/simulate, bad traces, the SVG (tests/cli/run.sh)
# make golden-cli    rewrite tests/cli/golden/* from the current tool; review `git diff tests/cli`
# make traces        regenerate policies/traces/*.csv (deterministic: tools/gen_traces.lua)
.PHONY: cli test-cli golden-cli traces install-cli install-lib
CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(CLI_SRCS:cli/%.c=$(BUILD)/cli/%.o)
CLI_BIN  := $(BUILD)/fluxgate

all: cli
cli: $(CLI_BIN)

# The tool sees only the public header (no -Isrc): it is a client of the C API.
$(BUILD)/cli/%.o: cli/%.c $(wildcard cli/*.h) include/fluxgate.h
	@mkdir -p $(dir $@)
	$(CC) -Iinclude -Icli -D_POSIX_C_SOURCE=200809L $(CFLAGS_ALL) $(WARN) -c $< -o $@

$(CLI_BIN): $(CLI_OBJS) $(LIB_A)
	$(CC) $(CFLAGS_ALL) $(CLI_OBJS) -o $@ $(LIB_A) $(LDLIBS_ALL)

# The trace reader belongs to the tool, not the library: its unit test links it directly.
$(BUILD)/tests/test_trace: tests/test_trace.c cli/fg_trace.c cli/fg_trace.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Icli $(CFLAGS_ALL) $(WARN) tests/test_trace.c cli/fg_trace.c -o $@ -lcmocka $(LDLIBS_ALL)

demo: $(CLI_BIN)
	$(CLI_BIN) simulate policies/payment.fgp payment_api policies/traces/outage.csv --svg $(BUILD)/demo.svg
	@echo "demo: the timeline is in $(BUILD)/demo.svg (open it in a browser)"

test: test-cli
test-cli: $(CLI_BIN)
	@sh tests/cli/run.sh $(CLI_BIN)

golden-cli: $(CLI_BIN)
	@sh tests/cli/run.sh --update $(CLI_BIN)

traces:
	lua5.4 tools/gen_traces.lua policies/traces

# ---- install ------------------------------------------------------------------
# make install PREFIX=/usr/local DESTDIR=   the library, header, fluxgate.pc, the tool, its man page.
# Other parts add their own install-* target as a prerequisite: `install: install-lua`.
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
FG_VERSION_STRING := $(shell sed -n 's/^\#define FG_VERSION "\(.*\)"/\1/p' include/fluxgate.h)

install: install-lib install-cli

# Rewritten on every run: it embeds PREFIX/LIBDIR, which may differ between runs.
$(BUILD)/fluxgate.pc: FORCE
	@mkdir -p $(dir $@)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: fluxgate' 'Description: circuit-breaker policy engine (policy language, bytecode VM, breakers)' \
	  'Version: $(FG_VERSION_STRING)' 'Libs: -L$${libdir} -lfluxgate' 'Libs.private: -lm -pthread' \
	  'Cflags: -I$${includedir}' > $@

install-lib: lib $(BUILD)/fluxgate.pc
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/fluxgate.h $(DESTDIR)$(INCLUDEDIR)/fluxgate.h
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libfluxgate.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/libfluxgate.so.$(FG_VERSION_STRING)
	ln -sf libfluxgate.so.$(FG_VERSION_STRING) $(DESTDIR)$(LIBDIR)/libfluxgate.so.0
	ln -sf libfluxgate.so.0 $(DESTDIR)$(LIBDIR)/libfluxgate.so
	install -m 644 $(BUILD)/fluxgate.pc $(DESTDIR)$(PKGCONFIGDIR)/fluxgate.pc

install-cli: $(CLI_BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(CLI_BIN) $(DESTDIR)$(BINDIR)/fluxgate
	install -m 644 doc/fluxgate.1 $(DESTDIR)$(MANDIR)/man1/fluxgate.1

.PHONY: FORCE
FORCE:

# ---- Lua binding (lua/): fluxgate.core for Lua 5.4 and for LuaJIT 2.1 ---------
# One set of C sources (lua/*.c), built twice; each module links the library's own -fPIC objects
# so that the fg_ symbols are exported from core.so (LuaJIT's FFI loads them
# from there). Each build directory is a complete LUA_PATH/LUA_CPATH root.
LUA54_CFLAGS  ?= $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUAJIT_CFLAGS ?= $(shell pkg-config --cflags luajit 2>/dev/null || echo -I/usr/include/luajit-2.1)
LUA_BINDING_SRCS := $(wildcard lua/*.c)
LUA_BINDING_DEPS := $(LUA_BINDING_SRCS) $(wildcard lua/*.h) include/fluxgate.h
LUA54_DIR  = $(BUILD)/lua54
LUAJIT_DIR = $(BUILD)/luajit
LUA_TREES  = $(LUA54_DIR) $(LUAJIT_DIR)
# The pure-Lua modules, as paths below a LUA_PATH root: fluxgate.lua fluxgate/outcome.lua ...
LUA_PURE  := $(patsubst lua/%,%,$(wildcard lua/*.lua lua/fluxgate/*.lua))
LUA_FILES  = $(foreach d,$(LUA_TREES),$(d)/fluxgate/core.so $(d)/fluxgate/cdef.lua $(addprefix $(d)/,$(LUA_PURE)))
CONFORMANCE ?= $(CURDIR)/../shared/conformance
LUA54_ENV  = LUA_PATH_5_4="$(CURDIR)/$(LUA54_DIR)/?.lua;;" LUA_CPATH_5_4="$(CURDIR)/$(LUA54_DIR)/?.so;;"
LUAJIT_ENV = LUA_PATH="$(CURDIR)/$(LUAJIT_DIR)/?.lua;;" LUA_CPATH="$(CURDIR)/$(LUAJIT_DIR)/?.so;;"
BUSTED ?= /usr/bin/busted
LUA_VALGRIND = valgrind -q --leak-check=full --show-possibly-lost=no --error-exitcode=1 --errors-for-leak-kinds=definite,indirect

.PHONY: lua test-lua valgrind-lua bench-lua install-lua
all: lua
lua: $(LUA_FILES)

$(LUA54_DIR)/fluxgate/core.so: $(LUA_BINDING_DEPS) $(LIB_OBJS) $(GEN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(LUA54_CFLAGS) $(CFLAGS_ALL) $(WARN) -shared -o $@ $(LUA_BINDING_SRCS) $(LIB_OBJS) $(GEN_OBJS) $(LDLIBS_ALL)

$(LUAJIT_DIR)/fluxgate/core.so: $(LUA_BINDING_DEPS) $(LIB_OBJS) $(GEN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(LUAJIT_CFLAGS) $(CFLAGS_ALL) $(WARN) -shared -o $@ $(LUA_BINDING_SRCS) $(LIB_OBJS) $(GEN_OBJS) $(LDLIBS_ALL)

$(LUA54_DIR)/%.lua: lua/%.lua
	@mkdir -p $(dir $@)
	cp $< $@

$(LUAJIT_DIR)/%.lua: lua/%.lua
	@mkdir -p $(dir $@)
	cp $< $@

# The FFI declarations are the header's FG_FFI_BEGIN..FG_FFI_END region, taken
# verbatim at build time so that they can never drift from the C API.
$(BUILD)/%/fluxgate/cdef.lua: include/fluxgate.h
	@mkdir -p $(dir $@)
	{ echo '-- Generated from include/fluxgate.h by make: the FFI declarations.'; \
	  echo 'return [==['; sed -n '/^\/\* FG_FFI_BEGIN \*\//,/^\/\* FG_FFI_END \*\//p' $<; echo ']==]'; } > $@

# Conformance suite and busted specs, each under Lua 5.4 and LuaJIT; fails if any fails.
test-lua: lua
	@rc=0; \
	echo "== conformance (lua5.4)"; $(LUA54_ENV) lua5.4 $(CONFORMANCE)/run.lua || rc=1; \
	echo "== conformance (luajit)"; $(LUAJIT_ENV) luajit $(CONFORMANCE)/run.lua || rc=1; \
	echo "== busted tests/lua (lua5.4)"; $(LUA54_ENV) lua5.4 $(BUSTED) tests/lua || rc=1; \
	echo "== busted tests/lua (luajit)"; $(LUAJIT_ENV) luajit $(BUSTED) tests/lua || rc=1; \
	exit $$rc

test: test-lua

# The Lua 5.4 runs under valgrind (LuaJIT's own allocator hides leaks from it).
# Under LuaJIT the engine's memory comes from LuaJIT's own allocator (the
# binding uses lua_getallocf), which memcheck cannot see into, so there the
# run proves the absence of invalid accesses more than of leaks; Lua 5.4's
# allocator is malloc, and there both are checked.
valgrind-lua: lua
	$(LUA54_ENV) $(LUA_VALGRIND) lua5.4 $(CONFORMANCE)/run.lua
	$(LUA54_ENV) $(LUA_VALGRIND) lua5.4 $(BUSTED) tests/lua
	$(LUAJIT_ENV) $(LUA_VALGRIND) luajit $(CONFORMANCE)/run.lua
	$(LUAJIT_ENV) $(LUA_VALGRIND) luajit $(BUSTED) tests/lua

bench-lua: lua
	$(LUA54_ENV) lua5.4 bench/lua_bench.lua
	$(LUAJIT_ENV) luajit bench/lua_bench.lua
	$(LUA54_ENV) lua5.4 bench/lua_family_bench.lua 100000 100000
	$(LUAJIT_ENV) luajit bench/lua_family_bench.lua 100000 100000

# make bench-memory   1M CountWindow(10) breakers under lua5.4: Lua heap per
#                     breaker and RSS (allocates ~1.3 GB; ~15 s, so not in make bench);
#                     then 1M keys in a family: creation, memory per key, prometheus()
.PHONY: bench-memory
bench-memory: lua
	$(LUA54_ENV) lua5.4 bench/lua_memory.lua
	$(LUA54_ENV) lua5.4 bench/lua_family_bench.lua 1000000 100000

install: install-lua
install-lua: lua
	install -d $(DESTDIR)$(PREFIX)/share/lua/5.4/fluxgate $(DESTDIR)$(PREFIX)/lib/lua/5.4/fluxgate
	for f in $(LUA_PURE); do install -m 644 lua/$$f $(DESTDIR)$(PREFIX)/share/lua/5.4/$$f || exit 1; done
	install -m 755 $(LUA54_DIR)/fluxgate/core.so $(DESTDIR)$(PREFIX)/lib/lua/5.4/fluxgate/core.so
	install -d $(DESTDIR)$(PREFIX)/share/lua/5.1/fluxgate $(DESTDIR)$(PREFIX)/lib/lua/5.1/fluxgate
	for f in $(LUA_PURE); do install -m 644 lua/$$f $(DESTDIR)$(PREFIX)/share/lua/5.1/$$f || exit 1; done
	install -m 644 $(LUAJIT_DIR)/fluxgate/cdef.lua $(DESTDIR)$(PREFIX)/share/lua/5.1/fluxgate/cdef.lua
	install -m 755 $(LUAJIT_DIR)/fluxgate/core.so $(DESTDIR)$(PREFIX)/lib/lua/5.1/fluxgate/core.so

# ---- a real nginx: fluxgate.nginx under Debian's nginx and Lua module --------------
# make test-nginx    tests/nginx/run.sh: 2 workers on free 127.0.0.1 ports, its
#                    own prefix under $(BUILD)/nginx, scenarios with asserts
#                    (under a minute; everything it starts it stops)
# make bench-nginx   worker CPU per request with and without the breaker
# Under SANITIZE=1 nginx runs with the ASan runtime preloaded and the
# instrumented modules; under SANITIZE=thread with the plain ones.
.PHONY: test-nginx bench-nginx
NGINX_LUADIR = $(LUAJIT_DIR)
NGINX_ENV =
ifeq ($(SANITIZE),1)
NGINX_ENV = FG_NGINX_PRELOAD="$(shell $(CC) -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0
else ifeq ($(SANITIZE),thread)
NGINX_LUADIR = build/luajit
endif
NGINX_READY = [ -x /usr/sbin/nginx ] && [ -f $(NGINX_MODULES)/ngx_http_lua_module.so ] && [ -f /usr/share/lua/5.1/resty/core.lua ]

test-nginx: $(if $(filter thread,$(SANITIZE)),lua-plain,lua)
	@if ! { $(NGINX_READY); }; then \
	  if [ -z "$(DEB_NGINX)" ]; then \
	    echo "test-nginx: SKIPPED: nginx's Lua module needs OpenResty's LuaJIT (luajit2), and Debian's LuaJIT is installed here"; exit 0; fi; \
	  echo "test-nginx: nginx, its Lua module or lua-resty-core is missing: make deps"; exit 1; fi; \
	echo "== nginx (tests/nginx/run.sh)"; \
	$(NGINX_ENV) timeout 110 bash tests/nginx/run.sh $(BUILD)/nginx $(NGINX_LUADIR)
test: test-nginx

bench-nginx: lua
	@if [ -n "$(SANITIZE)" ]; then echo "make bench-nginx measures the optimised build: run it without SANITIZE"; exit 1; fi
	@$(NGINX_READY) || { echo "bench-nginx: nginx, its Lua module or lua-resty-core is missing: make deps"; exit 1; }
	timeout 110 bash bench/nginx_bench.sh $(BUILD)/nginx-bench $(LUAJIT_DIR)

# ---- examples -----------------------------------------------------------------
# make examples   builds examples/*.c against the static library, with the
#                 public header only (what an embedder sees).
EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)

.PHONY: examples
examples: $(EXAMPLE_BINS)

$(BUILD)/examples/%: examples/%.c $(LIB_A) include/fluxgate.h
	@mkdir -p $(dir $@)
	$(CC) -Iinclude $(CFLAGS_ALL) $(WARN) $< -o $@ $(LIB_A) $(LDLIBS_ALL)

# make test-examples   builds and runs every example, and checks that the C
#                      example doc/c-api.md shows is examples/basic.c, line for line
#                      (so the manual's code is code that compiles and runs).
.PHONY: test-examples
test-examples: $(EXAMPLE_BINS)
	@set -e; for e in $(EXAMPLE_BINS); do echo "== $$e"; $$e > /dev/null; done
	@missing=$$(grep -Fxv -f doc/c-api.md examples/basic.c | grep -v '^$$' || true); \
	if [ -n "$$missing" ]; then echo "doc/c-api.md does not show examples/basic.c; missing lines:"; \
	  echo "$$missing"; exit 1; fi; echo "examples: doc/c-api.md shows examples/basic.c"
test: test-examples

# make test-examples-lua   examples/game.lua (a game loop: tick clock, seed, coroutines,
#                          a family per player) on lua5.4 and luajit; its output must be
#                          examples/game.expected on both, line for line.
.PHONY: test-examples-lua
test-examples-lua: lua
	@echo "== examples/game.lua (lua5.4)"; $(LUA54_ENV) lua5.4 examples/game.lua > $(BUILD)/game.lua54.out
	@diff -u examples/game.expected $(BUILD)/game.lua54.out
	@echo "== examples/game.lua (luajit)"; $(LUAJIT_ENV) luajit examples/game.lua > $(BUILD)/game.luajit.out
	@diff -u examples/game.expected $(BUILD)/game.luajit.out
test: test-examples-lua

# make test-docs   every relative link in the manual (README.md, HACKING.md, doc/*.md)
#                  resolves to a file, and a #heading to a heading of it.
.PHONY: test-docs
test-docs:
	@bash tools/check_doc_links.sh README.md HACKING.md $(wildcard doc/*.md)
test: test-docs

# ---- luarocks: fluxgate-0.1.0-1.rockspec (make backend) calls these ---------
# LUA_INCDIR, LUA_LIBDIR and LUA_SHAREDIR come from luarocks.
LUA_INCDIR ?= /usr/include/lua5.4
ROCK_DIR = $(BUILD)/rock-$(notdir $(LUA_INCDIR))
.PHONY: lua-rock install-lua-rock
lua-rock: $(ROCK_DIR)/fluxgate/core.so $(ROCK_DIR)/fluxgate/cdef.lua $(addprefix $(ROCK_DIR)/,$(LUA_PURE))

$(ROCK_DIR)/%.lua: lua/%.lua
	@mkdir -p $(dir $@)
	cp $< $@

$(ROCK_DIR)/fluxgate/core.so: $(LUA_BINDING_DEPS) $(LIB_OBJS) $(GEN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -I$(LUA_INCDIR) $(CFLAGS_ALL) $(WARN) -shared -o $@ $(LUA_BINDING_SRCS) $(LIB_OBJS) $(GEN_OBJS) $(LDLIBS_ALL)

install-lua-rock: lua-rock
	install -d $(LUA_LIBDIR)/fluxgate $(LUA_SHAREDIR)/fluxgate
	install -m 755 $(ROCK_DIR)/fluxgate/core.so $(LUA_LIBDIR)/fluxgate/core.so
	for f in $(LUA_PURE); do install -m 644 lua/$$f $(LUA_SHAREDIR)/$$f || exit 1; done
	install -m 644 $(ROCK_DIR)/fluxgate/cdef.lua $(LUA_SHAREDIR)/fluxgate/cdef.lua

# ---- make install and luarocks make, as an embedder's build sees them -----------
# tests/install/run.sh: a DESTDIR-staged install has every file; a PREFIX
# install builds examples/basic.c from pkg-config alone (shared and static),
# runs the installed tool, and passes the conformance suite on lua5.4 and
# luajit; so do the rocks `luarocks make` builds. Packaging, not memory safety:
# skipped under SANITIZE (the sub-makes would install instrumented builds).
.PHONY: test-install
test-install: lib $(CLI_BIN) lua
	bash tests/install/run.sh $(BUILD) $(CONFORMANCE)
ifeq ($(SANITIZE),)
test: test-install
endif

# ---- the Lua tests under the sanitizers (see HACKING.md, "Sanitizers") -------------------
# SANITIZE=1: the interpreters are not instrumented, so the ASan runtime must be
# the first library in the process; their own allocations are not ours to
# leak-check (valgrind-lua does that), hence detect_leaks=0.
# SANITIZE=thread: TSan cannot be preloaded into the interpreters (the shells
# they spawn crash under it) and the Lua tests start no threads, so they run
# against the plain modules in build/; the C thread tests are what TSan checks.
ifeq ($(SANITIZE),1)
LUA_ASAN_ENV = LD_PRELOAD="$(shell $(CC) -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0
LUA54_ENV  += $(LUA_ASAN_ENV)
LUAJIT_ENV += $(LUA_ASAN_ENV)
else ifeq ($(SANITIZE),thread)
LUA54_ENV  = LUA_PATH_5_4="$(CURDIR)/build/lua54/?.lua;;" LUA_CPATH_5_4="$(CURDIR)/build/lua54/?.so;;"
LUAJIT_ENV = LUA_PATH="$(CURDIR)/build/luajit/?.lua;;" LUA_CPATH="$(CURDIR)/build/luajit/?.so;;"
.PHONY: lua-plain
test-lua: lua-plain
lua-plain:
	@$(MAKE) --no-print-directory SANITIZE= lua
endif
