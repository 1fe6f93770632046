# fluxgate-c -- the only build entry point.
#
#   make            libfluxgate.a, libfluxgate.so, the fluxgate tool, the Lua modules
#   make demo       see it work: simulate the payment policy on an outage trace
#   make test       every test (C units, Lua conformance on Lua 5.4 and LuaJIT, CLI goldens,
#                   fluxgate.nginx in a real nginx, examples, docs links, the ABI, install)
#   make test SANITIZE=1        the same under ASan + UBSan (build in build/asan)
#   make test SANITIZE=thread   the thread tests under TSan (build in build/tsan)
#   make bench      benchmarks, printed as ratios against baselines of the same run
#   make bench-nginx   nginx worker CPU per request with and without fluxgate.nginx
#   make install PREFIX=/usr/local DESTDIR=
#   make deps       install the Debian packages needed to build and test
#   make clean
#
# This file holds the configuration, the library and the top-level targets
# (all, test, clean), each defined once. The other parts' rules are in mk/*.mk,
# one concern per file (HACKING.md, "Building"). Header dependencies are
# automatic (-MMD -MP: every object's .d file is included below). Generated
# sources (bison, flex) go to $(BUILD)/gen, never into git.

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
# Code that goes into a shared object (the library, the Lua module) exports
# only what FG_API / FGL_EXPORT marks (mk/abi.mk checks it).
HIDDEN = -fvisibility=hidden
# Header dependencies: DEPFLAGS for `-c` (foo.o -> foo.d); LINKDEP where one
# command compiles and links a program (prog -> prog.d).
DEPFLAGS = -MMD -MP
LINKDEP = -MMD -MP -MF $@.d -MT $@
# Every fragment adds the .d files of what it builds; they are included last.
DEP_FILES :=

.PHONY: all lib test clean FORCE
all: lib cli lua

# ---- the library ---------------------------------------------------------
# Every src/*.c is a library source: a new file needs no edit here.
LIB_SRCS := $(wildcard src/*.c)
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
GEN_HDRS := $(BUILD)/gen/parser.h $(BUILD)/gen/lexer.h
GEN_OBJS := $(BUILD)/gen/parser.o $(BUILD)/gen/lexer.o
LIB_A    := $(BUILD)/libfluxgate.a
LIB_SO   := $(BUILD)/libfluxgate.so
DEP_FILES += $(LIB_OBJS:.o=.d) $(GEN_OBJS:.o=.d)

lib: $(LIB_A) $(LIB_SO)

$(BUILD)/gen/parser.c $(BUILD)/gen/parser.h &: grammar/parser.y | check-deps
	@mkdir -p $(@D)
	bison -Wall -Werror --defines=$(BUILD)/gen/parser.h -o $(BUILD)/gen/parser.c $<

$(BUILD)/gen/lexer.c $(BUILD)/gen/lexer.h &: grammar/lexer.l $(BUILD)/gen/parser.h | check-deps
	@mkdir -p $(@D)
	flex --header-file=$(BUILD)/gen/lexer.h -o $(BUILD)/gen/lexer.c $<

# Any object may include a generated header: the first build must make them
# before it compiles anything (order-only); from then on the .d files say
# exactly which objects depend on them.
$(BUILD)/obj/%.o: src/%.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS_ALL) $(HIDDEN) $(WARN) $(DEPFLAGS) -c $< -o $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c | $(GEN_HDRS)
	$(CC) $(CPPFLAGS) $(CFLAGS_ALL) $(HIDDEN) $(GEN_WARN) $(DEPFLAGS) -c $< -o $@

$(LIB_A): $(LIB_OBJS) $(GEN_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(LIB_OBJS) $(GEN_OBJS)
	$(CC) -shared $(CFLAGS_ALL) -Wl,-soname,libfluxgate.so.0 -o $@ $^ $(LDLIBS_ALL)

# ---- the parts ---------------------------------------------------------------
# Order matters only where a fragment uses another's variables in a rule's
# prerequisites (those expand as the file is read): the library and the tool
# before the Lua modules, everything before install.
include mk/deps.mk      # make deps, check-deps: the Debian packages
include mk/unit.mk      # test-c, valgrind, test-sanitize: the cmocka unit tests
include mk/cli.mk       # cli, demo, test-cli, golden-cli, traces: the fluxgate tool
include mk/lua.mk       # lua, lua-plain, test-lua, valgrind-lua, lua-rock: the Lua modules
include mk/examples.mk  # test-examples, test-examples-lua
include mk/nginx.mk     # test-nginx, bench-nginx: a real nginx
include mk/bench.mk     # bench, bench-lua, bench-memory
include mk/fuzz.mk      # fuzz, fuzz-build: libFuzzer
include mk/docs.mk      # test-docs: the manual's links
include mk/abi.mk       # test-abi: what the shared objects export
include mk/install.mk   # install*, test-install, install-lua-rock

# ---- the top-level targets -------------------------------------------------------
# make test: every check, in this order (with -j they overlap). check-deps
# first: as root it installs what is missing (saying so), else it stops with
# the command to run. test-install is packaging, not memory safety: not under
# SANITIZE (its sub-makes would install instrumented builds).
test: check-deps test-c test-cli test-lua test-nginx test-examples test-examples-lua test-docs \
      test-abi $(if $(SANITIZE),,test-install)

clean:
	rm -rf build

FORCE:

-include $(wildcard $(DEP_FILES))
