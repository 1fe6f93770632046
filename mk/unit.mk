# mk/unit.mk -- the C unit tests (cmocka, tests/test_*.c), also under valgrind
# and the sanitizers (HACKING.md, "Sanitizers", "valgrind").
#
#   make test-c          build and run every tests/test_*.c
#   make valgrind        every C test binary under valgrind's memcheck
#   make test-sanitize   make test SANITIZE=1, then the C tests under SANITIZE=thread
.PHONY: test-c valgrind test-sanitize

TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
DEP_FILES += $(TEST_BINS:=.d)

# One program per file, linked against the static library (internal functions
# included: hidden visibility does not matter to a static link). Objects a
# test needs besides the library are extra prerequisites: see test_trace.
$(BUILD)/tests/%: tests/%.c $(LIB_A) | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(TEST_INC) $(CFLAGS_ALL) $(WARN) $(LINKDEP) $< $(filter %.o,$^) \
	  -o $@ $(LIB_A) -lcmocka $(LDLIBS_ALL)

# The trace reader belongs to the tool, not the library: its test links it in.
$(BUILD)/tests/test_trace: $(BUILD)/cli/fg_trace.o
$(BUILD)/tests/test_trace: TEST_INC = -Icli

test-c: $(TEST_BINS)
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; $$t; done

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
