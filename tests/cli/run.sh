#!/bin/sh
# run.sh -- golden tests of the `fluxgate` tool (make test-cli).
#
#   sh tests/cli/run.sh FLUXGATE            run every case, compare with the goldens
#   sh tests/cli/run.sh --update FLUXGATE   rewrite the goldens (make golden-cli);
#                                           then review `git diff tests/cli/golden`
#                                           line by line before committing them
#
# Each line of tests/cli/cases.txt is `NAME ARGS...`: the case runs
# `fluxgate ARGS...` from the repository root, and tests/cli/golden/NAME.out
# holds what it must print on stdout and stderr and its exit status.
# After the goldens, the SVG of a simulation is checked: it parses as XML
# (xmllint --noout), and holds one band per state interval and one line per
# transition, in the order the text output lists them.
set -u

update=0
if [ "${1:-}" = "--update" ]; then update=1; shift; fi
if [ $# -ne 1 ]; then echo "usage: sh tests/cli/run.sh [--update] FLUXGATE" >&2; exit 2; fi
fluxgate=$1
here=tests/cli
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fluxgate-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

pass=0
fail=0

# Runs one case and writes its transcript to $2.
transcript() {
    # Word splitting of $1 is wanted: the case line is a list of arguments.
    # shellcheck disable=SC2086
    "$fluxgate" $1 </dev/null >"$tmp/stdout" 2>"$tmp/stderr"
    status=$?
    {
        echo "\$ fluxgate${1:+ $1}"
        echo "--- stdout"
        cat "$tmp/stdout"
        echo "--- stderr"
        cat "$tmp/stderr"
        echo "--- exit $status"
    } >"$2"
}

while read -r name args; do
    case "$name" in ''|'#'*) continue ;; esac
    golden="$here/golden/$name.out"
    transcript "$args" "$tmp/actual"
    if [ $update -eq 1 ]; then
        if ! cmp -s "$tmp/actual" "$golden" 2>/dev/null; then
            cp "$tmp/actual" "$golden"
            echo "updated $golden"
        fi
        continue
    fi
    if [ ! -f "$golden" ]; then
        echo "FAIL $name: no golden file $golden (make golden-cli, then review it)"
        fail=$((fail + 1))
    elif cmp -s "$tmp/actual" "$golden"; then
        pass=$((pass + 1))
    else
        echo "FAIL $name: output differs from $golden"
        diff -u "$golden" "$tmp/actual" | head -40
        fail=$((fail + 1))
    fi
done <"$here/cases.txt"

[ $update -eq 1 ] && exit 0

# ---- the SVG timeline ---------------------------------------------------------
# check_svg NAME ARGS...: simulate with --svg, then compare the picture with the text.
check_svg() {
    name=$1; shift
    svg="$tmp/$name.svg"
    if ! "$fluxgate" simulate "$@" --svg "$svg" >"$tmp/svg.out" 2>&1; then
        echo "FAIL svg $name: simulate failed"; cat "$tmp/svg.out"; fail=$((fail + 1)); return
    fi
    if ! xmllint --noout "$svg"; then
        echo "FAIL svg $name: not well-formed XML"; fail=$((fail + 1)); return
    fi
    # The states the text says the breaker went through: the first band's
    # state, then each transition's new state.
    first=$(sed -n 's/^  #1 at [0-9.]* s: \([a-z_]*\) -> .*/\1/p' "$tmp/svg.out")
    [ -n "$first" ] || first=$(sed -n 's/^  (none: the breaker stayed \([a-z_]*\))$/\1/p' "$tmp/svg.out")
    { echo "$first"; sed -n 's/^  #[0-9]* at [0-9.]* s: [a-z_]* -> \([a-z_]*\)$/\1/p' "$tmp/svg.out"; } >"$tmp/states.text"
    grep -o 'class="band" data-state="[a-z_]*"' "$svg" | sed 's/.*data-state="\([a-z_]*\)"/\1/' >"$tmp/states.svg"
    transitions=$(sed -n 's/^  transitions *\([0-9]*\)$/\1/p' "$tmp/svg.out")
    lines=$(grep -c 'class="transition"' "$svg")
    bands=$(wc -l <"$tmp/states.svg")
    if [ -z "$transitions" ] || [ "$bands" -ne $((transitions + 1)) ] || [ "$lines" -ne "$transitions" ]; then
        echo "FAIL svg $name: $bands bands and $lines transition lines for $transitions transitions"
        fail=$((fail + 1)); return
    fi
    if ! cmp -s "$tmp/states.text" "$tmp/states.svg"; then
        echo "FAIL svg $name: band states differ from the transitions printed"
        diff "$tmp/states.text" "$tmp/states.svg" | head -10
        fail=$((fail + 1)); return
    fi
    pass=$((pass + 1))
}

if ! command -v xmllint >/dev/null 2>&1; then
    echo "FAIL svg: xmllint is missing (sudo apt-get install libxml2-utils)"
    exit 1
fi
check_svg outage policies/payment.fgp payment_api policies/traces/outage.csv --seed 1
check_svg flapping policies/game.fgp matchmaking policies/traces/flapping.csv --seed 7
check_svg brownout policies/gateway.fgp search policies/traces/brownout.csv --seed 1
check_svg no-transition tests/cli/check/clean.fgp steady tests/cli/traces/steady.csv

# ---- output that cannot be written ----------------------------------------------
# A full disk or a closed stdout loses the output: exit 1 with a message on
# stderr, never a silent 0 (the listing used to vanish with exit status 0).
# With stdout closed, the files the tool opens must not take its descriptor.
check_lost_output() {
    name=$1; shift
    if [ -w /dev/full ]; then
        "$fluxgate" "$@" >/dev/full 2>"$tmp/lost.err"
        status=$?
        if [ $status -ne 1 ] || ! grep -q 'cannot write to standard output' "$tmp/lost.err"; then
            echo "FAIL lost output $name (/dev/full): exit $status"; cat "$tmp/lost.err"; fail=$((fail + 1)); return
        fi
    fi
    "$fluxgate" "$@" >&- 2>"$tmp/lost.err"
    status=$?
    if [ $status -ne 1 ] || ! grep -q 'cannot write to standard output' "$tmp/lost.err"; then
        echo "FAIL lost output $name (closed stdout): exit $status"; cat "$tmp/lost.err"; fail=$((fail + 1)); return
    fi
    pass=$((pass + 1))
}
check_lost_output check check policies/payment.fgp
check_lost_output disasm disasm policies/payment.fgp
check_lost_output help --help
check_lost_output simulate simulate policies/payment.fgp payment_api policies/traces/outage.csv --seed 1
# stdout closed and --svg: the picture is the one an ordinary run draws, with
# nothing of the text in it
"$fluxgate" simulate policies/payment.fgp payment_api policies/traces/outage.csv --seed 1 \
    --svg "$tmp/closed.svg" >&- 2>/dev/null
status=$?
"$fluxgate" simulate policies/payment.fgp payment_api policies/traces/outage.csv --seed 1 \
    --svg "$tmp/open.svg" >/dev/null 2>&1
if [ $status -ne 1 ] || ! cmp -s "$tmp/closed.svg" "$tmp/open.svg"; then
    echo "FAIL lost output: simulate --svg with stdout closed"; fail=$((fail + 1))
else
    pass=$((pass + 1))
fi

# ---- streaming: memory follows the calls in flight, not the trace ----------------
# The same flapping service for 100,000 and for 1,000,000 calls: the peak
# memory of the long run must stay within a few megabytes of the short one's
# (holding every row cost about 117 bytes each, over 100 MB more here). The
# long run, with --svg, also keeps its picture bounded: at most 2000
# transitions drawn one by one (it makes about 4000), then one band per bucket.
flapping_trace() {
    awk -v n="$1" 'BEGIN { print "time,outcome,duration";
        for (i = 0; i < n; i++) printf "%.3f,%s,0.010\n", i * 0.01, (int(i / 50) % 2 == 0) ? "ok" : "timeout" }'
}
if [ ! -x /usr/bin/time ]; then
    echo "FAIL streaming: /usr/bin/time is missing (sudo apt-get install time)"; fail=$((fail + 1))
else
    flapping_trace 100000 >"$tmp/short.csv"
    flapping_trace 1000000 >"$tmp/long.csv"
    /usr/bin/time -f %M -o "$tmp/short.kb" "$fluxgate" simulate tests/cli/check/clean.fgp steady "$tmp/short.csv" >/dev/null
    /usr/bin/time -f %M -o "$tmp/long.kb" "$fluxgate" simulate tests/cli/check/clean.fgp steady "$tmp/long.csv" \
        --svg "$tmp/long.svg" >"$tmp/long.out"
    short_kb=$(tail -1 "$tmp/short.kb"); long_kb=$(tail -1 "$tmp/long.kb")
    lines=$(grep -c 'class="transition"' "$tmp/long.svg")
    bands=$(grep -c 'class="band"' "$tmp/long.svg")
    transitions=$(sed -n 's/^  transitions *\([0-9]*\)$/\1/p' "$tmp/long.out")
    if [ $((long_kb - short_kb)) -gt 16384 ]; then
        echo "FAIL streaming: peak memory ${short_kb} kB for 100k calls, ${long_kb} kB for 1M"; fail=$((fail + 1))
    elif ! xmllint --noout "$tmp/long.svg" || [ "$lines" -ne 2000 ] || [ "$bands" -gt 2201 ] \
        || [ "$transitions" -le 2000 ]; then
        echo "FAIL streaming svg: $lines transition lines, $bands bands for $transitions transitions"; fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
fi

echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
