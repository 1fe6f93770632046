# mk/lua.mk -- the Lua binding (lua/): fluxgate.core for Lua 5.4, for LuaJIT 2.1
# and for the Lua a luarocks build targets, and the Lua tests.
#
#   make lua            $(BUILD)/lua54 and $(BUILD)/luajit: each a complete
#                       LUA_PATH/LUA_CPATH root (core.so, cdef.lua, the pure-Lua modules)
#   make lua-plain      the same without sanitizers, in build/ (what SANITIZE=thread tests)
#   make test-lua       conformance suite and busted specs, each on lua5.4 and luajit
#   make valgrind-lua   the same under memcheck
#   make lua-rock       the tree `luarocks make` installs (fluxgate-0.1.0-1.rockspec;
#                       LUA_INCDIR, LUA_LIBDIR and LUA_SHAREDIR come from luarocks)
.PHONY: lua lua-plain test-lua valgrind-lua lua-rock

LUA54_CFLAGS  ?= $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUAJIT_CFLAGS ?= $(shell pkg-config --cflags luajit 2>/dev/null || echo -I/usr/include/luajit-2.1)
LUA_INCDIR ?= /usr/include/lua5.4
LUA_BINDING_SRCS := $(wildcard lua/*.c)
LUA54_DIR  = $(BUILD)/lua54
LUAJIT_DIR = $(BUILD)/luajit
ROCK_DIR   = $(BUILD)/rock-$(notdir $(LUA_INCDIR))
LUA_TREES  = $(LUA54_DIR) $(LUAJIT_DIR)
# The pure-Lua modules, as paths below a LUA_PATH root: fluxgate.lua fluxgate/outcome.lua ...
LUA_PURE  := $(patsubst lua/%,%,$(wildcard lua/*.lua lua/fluxgate/*.lua))
# What makes a tree complete.
lua_tree_files = $(1)/fluxgate/core.so $(1)/fluxgate/cdef.lua $(addprefix $(1)/,$(LUA_PURE))
LUA_FILES  = $(foreach d,$(LUA_TREES),$(call lua_tree_files,$(d)))

# lua_tree TREE,OBJDIR,INCLUDES: the rules of one tree. The binding's objects
# (compiled against that Lua's headers, in OBJDIR) and the engine's own -fPIC
# objects make core.so; both are built with -fvisibility=hidden, so core.so --
# which nginx loads into every worker -- exports luaopen_fluxgate_core and the
# engine's FG_API functions (what LuaJIT's FFI path calls, through cdef.lua)
# and nothing else (mk/abi.mk checks it). -Bsymbolic binds core.so's calls to
# its own engine: the process may hold another fluxgate in its global scope (a
# libfluxgate.so of another version that nginx or the program links or preloads),
# which would otherwise receive the binding's calls while the FFI path, through
# ffi.load of core.so itself, kept calling core.so's own.
define lua_tree
$(2)/%.o: lua/%.c | $$(GEN_HDRS)
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $(3) $$(CFLAGS_ALL) $$(HIDDEN) $$(WARN) $$(DEPFLAGS) -c $$< -o $$@

# (Relinked when this file changes: its link flags are part of the module.)
$(1)/fluxgate/core.so: $(LUA_BINDING_SRCS:lua/%.c=$(2)/%.o) $$(LIB_OBJS) $$(GEN_OBJS) mk/lua.mk
	@mkdir -p $$(@D)
	$$(CC) -shared $$(CFLAGS_ALL) -Wl,-Bsymbolic -o $$@ $$(filter %.o,$$^) $$(LDLIBS_ALL)

$(1)/%.lua: lua/%.lua
	@mkdir -p $$(@D)
	cp $$< $$@

# The FFI declarations are the header's FG_FFI_BEGIN..FG_FFI_END region, taken
# at build time so that they can never drift from the C API; only the FG_API
# export marks, which ffi.cdef does not know, are left out.
$(1)/fluxgate/cdef.lua: include/fluxgate.h
	@mkdir -p $$(@D)
	{ echo '-- Generated from include/fluxgate.h by make: the FFI declarations.'; \
	  echo 'return [==['; sed -n '/^\/\* FG_FFI_BEGIN \*\//,/^\/\* FG_FFI_END \*\//p' $$< | sed 's/^FG_API //'; \
	  echo ']==]'; } > $$@

DEP_FILES += $(LUA_BINDING_SRCS:lua/%.c=$(2)/%.d)
endef
$(eval $(call lua_tree,$(LUA54_DIR),$(BUILD)/lua-obj/lua54,$(LUA54_CFLAGS)))
$(eval $(call lua_tree,$(LUAJIT_DIR),$(BUILD)/lua-obj/luajit,$(LUAJIT_CFLAGS)))
$(eval $(call lua_tree,$(ROCK_DIR),$(BUILD)/lua-obj/rock-$(notdir $(LUA_INCDIR)),-I$(LUA_INCDIR)))

lua: $(LUA_FILES)
lua-rock: $(call lua_tree_files,$(ROCK_DIR))

# The binding builds for Lua 5.4 and LuaJIT 2.1 only (SPEC section 7). Plain
# `luarocks make` on Debian targets PUC Lua 5.1, whose headers lack what LuaJIT
# adds to that API (LUA_OK, luaL_setfuncs): say so before compiling, rather than
# fail deep in a C file or, with LuaJIT's headers and lua5.1, at require time.
ROCK_OBJ_DIR = $(BUILD)/lua-obj/rock-$(notdir $(LUA_INCDIR))
$(LUA_BINDING_SRCS:lua/%.c=$(ROCK_OBJ_DIR)/%.o): | rock-lua-check
.PHONY: rock-lua-check
rock-lua-check:
	@grep -Eq '^#define[[:space:]]+LUA_VERSION_NUM[[:space:]]+504$$' '$(LUA_INCDIR)/lua.h' || \
	  [ -f '$(LUA_INCDIR)/luajit.h' ] || \
	  { echo "fluxgate's Lua module is for Lua 5.4 or LuaJIT 2.1, and $(LUA_INCDIR)/lua.h is neither" \
	    "(for LuaJIT/OpenResty: luarocks-5.1 make LUA_INCDIR=/usr/include/luajit-2.1)" >&2; exit 1; }
lua-plain:
	@$(MAKE) --no-print-directory SANITIZE= lua

# How the tests run each Lua against a tree.
# SANITIZE=1: the interpreters are not instrumented, so the ASan runtime must be
# the first library in the process; their own allocations are not ours to
# leak-check (valgrind-lua does that), hence detect_leaks=0.
# SANITIZE=thread: TSan cannot be preloaded into the interpreters (the shells
# they spawn crash under it) and the Lua tests start no threads, so they run
# against the plain modules in build/ (lua-plain); the C thread tests are what
# TSan checks.
# The conformance suite lives outside this repository, in ../shared beside the
# tree (SHARED=<dir> or CONFORMANCE=<dir> name another place). Without it every
# check that runs it stops first with one line saying where it looked, rather
# than a "cannot open" per interpreter deep in the output.
SHARED ?= $(CURDIR)/../shared
CONFORMANCE ?= $(SHARED)/conformance
.PHONY: check-conformance
check-conformance:
	@[ -f '$(CONFORMANCE)/run.lua' ] || { echo "the conformance suite is not at $(CONFORMANCE)" \
	  "(../shared/conformance beside this tree): pass SHARED=<dir holding conformance/> or CONFORMANCE=<dir>" >&2; exit 1; }
BUSTED ?= /usr/bin/busted
ifeq ($(SANITIZE),thread)
LUA_TESTED_TREES = build/lua54 build/luajit
LUA_FOR_TESTS = lua-plain
else
LUA_TESTED_TREES = $(LUA_TREES)
LUA_FOR_TESTS = lua
endif
LUA54_ENV  = LUA_PATH_5_4="$(CURDIR)/$(word 1,$(LUA_TESTED_TREES))/?.lua;;" \
             LUA_CPATH_5_4="$(CURDIR)/$(word 1,$(LUA_TESTED_TREES))/?.so;;" $(LUA_ASAN_ENV)
LUAJIT_ENV = LUA_PATH="$(CURDIR)/$(word 2,$(LUA_TESTED_TREES))/?.lua;;" \
             LUA_CPATH="$(CURDIR)/$(word 2,$(LUA_TESTED_TREES))/?.so;;" $(LUA_ASAN_ENV)
ifeq ($(SANITIZE),1)
LUA_ASAN_ENV = LD_PRELOAD="$(shell $(CC) -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0
endif

# Conformance suite and busted specs, each under Lua 5.4 and LuaJIT; fails if any fails.
# The specs run twice: in file order, and shuffled (a fixed seed, so that a
# failure repeats; BUSTED_SEED=n for another order): a test that passes only
# after or before another one is a broken test (one Lua state holds every
# name's counters, the zones it opened, the collector's backlog).
BUSTED_SEED ?= 5
test-lua: check-conformance $(LUA_FOR_TESTS)
	@rc=0; \
	echo "== conformance (lua5.4)"; $(LUA54_ENV) lua5.4 $(CONFORMANCE)/run.lua || rc=1; \
	echo "== conformance (luajit)"; $(LUAJIT_ENV) luajit $(CONFORMANCE)/run.lua || rc=1; \
	echo "== busted tests/lua (lua5.4)"; $(LUA54_ENV) lua5.4 $(BUSTED) tests/lua || rc=1; \
	echo "== busted tests/lua (luajit)"; $(LUAJIT_ENV) luajit $(BUSTED) tests/lua || rc=1; \
	echo "== busted tests/lua, shuffled (lua5.4, seed $(BUSTED_SEED))"; \
	$(LUA54_ENV) lua5.4 $(BUSTED) --shuffle --seed=$(BUSTED_SEED) tests/lua || rc=1; \
	echo "== busted tests/lua, shuffled (luajit, seed $(BUSTED_SEED))"; \
	$(LUAJIT_ENV) luajit $(BUSTED) --shuffle --seed=$(BUSTED_SEED) tests/lua || rc=1; \
	exit $$rc

# The Lua 5.4 runs under valgrind (LuaJIT's own allocator hides leaks from it).
# Under LuaJIT the engine's memory comes from LuaJIT's own allocator (the
# binding uses lua_getallocf), which memcheck cannot see into, so there the
# run proves the absence of invalid accesses more than of leaks; Lua 5.4's
# allocator is malloc, and there both are checked.
# Debian's luajit2 is not built for valgrind: see tests/lua/luajit.supp.
LUAJIT_SUPP = --suppressions=tests/lua/luajit.supp
LUA_VALGRIND = valgrind -q --leak-check=full --show-possibly-lost=no --error-exitcode=1 --errors-for-leak-kinds=definite,indirect
valgrind-lua: check-conformance lua
	$(LUA54_ENV) $(LUA_VALGRIND) lua5.4 $(CONFORMANCE)/run.lua
	$(LUA54_ENV) $(LUA_VALGRIND) lua5.4 $(BUSTED) tests/lua
	$(LUAJIT_ENV) $(LUA_VALGRIND) $(LUAJIT_SUPP) luajit $(CONFORMANCE)/run.lua
	$(LUAJIT_ENV) $(LUA_VALGRIND) $(LUAJIT_SUPP) luajit $(BUSTED) tests/lua
