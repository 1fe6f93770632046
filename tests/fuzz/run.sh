#!/usr/bin/env bash
# run.sh -- runs each libFuzzer binary for SECONDS and reports executions.
#
#   tests/fuzz/run.sh SECONDS DIR FUZZER...
#
# DIR holds the binaries (DIR/NAME); seeds come from DIR/seeds/<kind> (see
# make_corpus.sh), the growing corpus lives in DIR/corpus/NAME, logs in
# DIR/logs/NAME.log and crash reproducers in DIR/artifacts/. A crash, leak,
# timeout or out-of-memory fails the run, after printing the reproducer's path
# and its bytes in base64 and hex so that it can be rebuilt from the log alone.
set -uo pipefail
seconds=$1; dir=$2; shift 2
status=0
summary=()
mkdir -p "$dir/logs" "$dir/artifacts"
for name in "$@"; do
  bin="$dir/$name"
  kind=${name#fuzz_}
  corpus="$dir/corpus/$name"
  mkdir -p "$corpus"
  seeds="$dir/seeds/$kind"; [ -d "$seeds" ] || seeds=""
  dict=""; [ "$kind" = compile ] && dict="-dict=tests/fuzz/policy.dict"
  log="$dir/logs/$name.log"
  echo "--- $name: ${seconds}s (log: $log)"
  # -timeout: the compiler must be linear, so any input taking seconds is a bug.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=print_stacktrace=1 \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
      -print_final_stats=1 -artifact_prefix="$dir/artifacts/$name-" $dict \
      "$corpus" $seeds > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
  if [ $rc -ne 0 ]; then
    status=1
    tail -n 60 "$log"
    for a in $(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log"); do
      echo "reproducer: $a"
      echo "base64: $(base64 -w0 "$a")"
      echo "hex: $(od -An -tx1 -v "$a" | tr -d ' \n')"
      echo "replay: $bin $a"
    done
    summary+=("$name: FAILED (exit $rc) after ${execs:-?} executions")
  else
    summary+=("$name: ok, ${execs:-?} executions, ${rate:-?} exec/s, corpus $(ls "$corpus" | wc -l) inputs")
  fi
done
echo "--- fuzz summary (${seconds}s each)"
printf '%s\n' "${summary[@]}"
exit $status
