#!/bin/sh
# bench/callgrind/run.sh [LIB] -- instructions per call of the engine's hot
# paths under callgrind (see fg_hot_paths.c). LIB: the static library to
# link (default build/libfluxgate.a), so two builds can be compared.
set -e
LIB=${1:-build/libfluxgate.a}
N=${N:-100000}
OUT=${TMPDIR:-/tmp}/fg_hot_paths.$$
cc -std=c11 -O2 -g -pthread -Iinclude -Isrc -Ibench -Itests bench/callgrind/fg_hot_paths.c \
    bench/bench_workload.c bench/bench_baseline.c bench/bench_baseline_threshold.c bench/bench_baseline_flapping.c -o "$OUT" "$LIB" -lm
for c in given alternating threshold flapping clock timewindow family sinkmt sinkst base_given base_alternating base_threshold base_flapping; do
    valgrind --tool=callgrind --callgrind-out-file="$OUT.cg" --toggle-collect="fg_hot_$c*" \
        "$OUT" "$c" "$N" >/dev/null 2>"$OUT.log" || { cat "$OUT.log"; exit 1; }
    ir=$(sed -n 's/^summary: //p' "$OUT.cg")
    echo "$c: $(awk -v ir="$ir" -v n="$N" 'BEGIN { printf "%.1f", ir / n }') instructions per call"
done
rm -f "$OUT" "$OUT.cg" "$OUT.log"
