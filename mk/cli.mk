# mk/cli.mk -- the fluxgate tool (cli/), its golden tests, the demo and the
# example traces (see doc/fluxgate.1 and README.md, "Set-up").
#
#   make cli           $(BUILD)/fluxgate (cli/*.c linked against libfluxgate.a)
#   make demo          simulate policies/payment.fgp on the outage trace; SVG in $(BUILD)/demo.svg
#   make test-cli      golden tests of check/disasm/simulate, bad traces, the SVG (tests/cli/run.sh)
#   make golden-cli    rewrite tests/cli/golden/* from the current tool; review `git diff tests/cli`
#   make traces        regenerate policies/traces/*.csv (deterministic: tools/gen_traces.lua)
.PHONY: cli demo test-cli golden-cli traces

CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(CLI_SRCS:cli/%.c=$(BUILD)/cli/%.o)
CLI_BIN  := $(BUILD)/fluxgate
DEP_FILES += $(CLI_OBJS:.o=.d)

cli: $(CLI_BIN)

# The tool sees only the public header (no -Isrc): it is a client of the C API.
$(BUILD)/cli/%.o: cli/%.c
	@mkdir -p $(@D)
	$(CC) -Iinclude -Icli -D_POSIX_C_SOURCE=200809L $(CFLAGS_ALL) $(WARN) $(DEPFLAGS) -c $< -o $@

$(CLI_BIN): $(CLI_OBJS) $(LIB_A)
	$(CC) $(CFLAGS_ALL) $(CLI_OBJS) -o $@ $(LIB_A) $(LDLIBS_ALL)

demo: $(CLI_BIN)
	$(CLI_BIN) simulate policies/payment.fgp payment_api policies/traces/outage.csv --svg $(BUILD)/demo.svg
	@echo "demo: the timeline is in $(BUILD)/demo.svg (open it in a browser)"

test-cli: $(CLI_BIN)
	@sh tests/cli/run.sh $(CLI_BIN)

golden-cli: $(CLI_BIN)
	@sh tests/cli/run.sh --update $(CLI_BIN)

traces:
	lua5.4 tools/gen_traces.lua policies/traces
