# mk/fuzz.mk -- the libFuzzer harnesses (tests/fuzz/fuzz_*.c; HACKING.md, "Fuzzing").
#
#   make fuzz FUZZ_SECONDS=N   build them with clang (library instrumented: SANITIZE=fuzzer,
#                              in build/fuzz), seed the corpora, run each for N seconds
#   make fuzz-build            only build them (in the current $(BUILD))
.PHONY: fuzz fuzz-build

FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZERS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
DEP_FILES += $(FUZZERS:%=$(BUILD)/%.d)

fuzz:
	@$(MAKE) --no-print-directory SANITIZE=fuzzer CC=$(FUZZ_CC) fuzz-build
	@bash tests/fuzz/make_corpus.sh build/fuzz/seeds
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS) build/fuzz $(FUZZERS)

fuzz-build: $(FUZZERS:%=$(BUILD)/%)

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_A) | $(GEN_HDRS)
	$(CC) $(CPPFLAGS) $(FUZZ_INC) $(CFLAGS_ALL) $(WARN) -fsanitize=fuzzer $(LINKDEP) $< $(filter %.o,$^) \
	  -o $@ $(LIB_A) $(LDLIBS_ALL)

# The trace reader is the tool's, not the library's: its harness links it in.
$(BUILD)/fuzz_trace: $(BUILD)/cli/fg_trace.o
$(BUILD)/fuzz_trace: FUZZ_INC = -Icli
