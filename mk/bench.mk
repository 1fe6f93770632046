# mk/bench.mk -- the benchmarks (bench/; HACKING.md, "Benchmarks"). Speed is
# printed as ratios against baselines measured in the same run.
#
#   make bench          the C benchmark (optimised, no sanitizer), then bench-lua
#   make bench-lua      the Lua binding's benchmarks on lua5.4 and luajit
#   make bench-memory   1M CountWindow(10) breakers under lua5.4: Lua heap per
#                       breaker and RSS (allocates ~1.3 GB; ~15 s, so not in make bench);
#                       then 1M keys in a family: creation, memory per key, prometheus()
#   (make bench-nginx is in mk/nginx.mk)
.PHONY: bench bench-lua bench-memory

BENCH_SRCS := $(wildcard bench/*.c)
BENCH_OBJS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%.o)
BENCH_BIN  := $(BUILD)/bench/bench_core
DEP_FILES += $(BENCH_OBJS:.o=.d)

$(BUILD)/bench/%.o: bench/%.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ibench -Itests $(CFLAGS_ALL) $(WARN) $(DEPFLAGS) -c $< -o $@

$(BENCH_BIN): $(BENCH_OBJS) $(LIB_A)
	$(CC) $(CFLAGS_ALL) $(BENCH_OBJS) -o $@ $(LIB_A) $(LDLIBS_ALL)

# One after the other, never side by side (-j): each measures the machine.
bench:
	@if [ -n "$(SANITIZE)" ]; then echo "make bench measures the optimised build: run it without SANITIZE"; exit 1; fi
	@$(MAKE) --no-print-directory $(BENCH_BIN)
	$(BENCH_BIN)
	@$(MAKE) --no-print-directory bench-lua

bench-lua: lua
	$(LUA54_ENV) lua5.4 bench/lua_bench.lua
	$(LUAJIT_ENV) luajit bench/lua_bench.lua
	$(LUA54_ENV) lua5.4 bench/lua_family_bench.lua 100000 100000
	$(LUAJIT_ENV) luajit bench/lua_family_bench.lua 100000 100000

bench-memory: lua
	$(LUA54_ENV) lua5.4 bench/lua_memory.lua
	$(LUA54_ENV) lua5.4 bench/lua_family_bench.lua 1000000 100000
