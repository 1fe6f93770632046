# mk/examples.mk -- the examples (examples/), built and run as the manual shows them.
#
#   make examples            examples/*.c against the static library, with the
#                            public header only (what an embedder sees)
#   make test-examples       builds and runs every example, and checks that the C
#                            example doc/c-api.md shows is examples/basic.c, line for
#                            line (so the manual's code is code that compiles and runs)
#   make test-examples-lua   examples/game.lua (a game loop: tick clock, seed, coroutines,
#                            a family per player) on lua5.4 and luajit; its output must be
#                            examples/game.expected on both, line for line
.PHONY: examples test-examples test-examples-lua

EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)
DEP_FILES += $(EXAMPLE_BINS:=.d)

examples: $(EXAMPLE_BINS)

$(BUILD)/examples/%: examples/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) -Iinclude $(CFLAGS_ALL) $(WARN) $(LINKDEP) $< -o $@ $(LIB_A) $(LDLIBS_ALL)

test-examples: $(EXAMPLE_BINS)
	@set -e; for e in $(EXAMPLE_BINS); do echo "== $$e"; $$e > /dev/null; done
	@missing=$$(grep -Fxv -f doc/c-api.md examples/basic.c | grep -v '^$$' || true); \
	if [ -n "$$missing" ]; then echo "doc/c-api.md does not show examples/basic.c; missing lines:"; \
	  echo "$$missing"; exit 1; fi; echo "examples: doc/c-api.md shows examples/basic.c"

test-examples-lua: $(LUA_FOR_TESTS)
	@echo "== examples/game.lua (lua5.4)"; $(LUA54_ENV) lua5.4 examples/game.lua > $(BUILD)/game.lua54.out
	@diff -u examples/game.expected $(BUILD)/game.lua54.out
	@echo "== examples/game.lua (luajit)"; $(LUAJIT_ENV) luajit examples/game.lua > $(BUILD)/game.luajit.out
	@diff -u examples/game.expected $(BUILD)/game.luajit.out
