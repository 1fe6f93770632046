#!/usr/bin/env bash
# make_corpus.sh -- builds the fuzzers' seed corpora under OUT (default build/fuzz/seeds).
#
#   compile/  every policy in policies/ and tests/ (*.fgp), and a few expressions
#   vm/       a handful of byte patterns (the harness corrupts real programs)
#   trace/    every example trace (*.csv) in policies/ and tests/
#   snapshot/ scripts for fuzz_snapshot (byte 0: breaker and mode; odd: steps
#             that make a real snapshot, then (offset, value) patches)
#
# Seeds are build outputs: regenerated on every `make fuzz`, never committed.
set -euo pipefail
out=${1:-build/fuzz/seeds}
rm -rf "$out"
mkdir -p "$out/compile" "$out/vm" "$out/trace" "$out/snapshot"

n=0
while IFS= read -r -d '' f; do
  n=$((n + 1)); cp "$f" "$out/compile/file-$n-$(basename "$f")"
done < <(find policies tests -name '*.fgp' -print0 2>/dev/null)

# Single expressions of every kind (the harness also compiles each input as one).
i=0
while IFS= read -r line; do
  i=$((i + 1)); printf '%s' "$line" > "$out/compile/expr-$i"
done <<'EXPRS'
CountWindow(100)
TimeWindow(60)
TypeOf("timeout", "connection refused", "closed") | Status(500..599)
~TypeOf("Cancelled") & Message("*reset*")
Custom("mine") | All()
FailureStreak(5) | (MinRequests(20) & ((Closed() & FailureRate(60%)) | (HalfOpened() & FailureRate(50%))))
MinRequests(20) & SlowRate(30%, threshold = 2s) | AvgLatency(500ms)
~(MinRequests(3) & FailureRate(0.5))
Backoff(initial = 10s, multiplier = 2, max_duration = 5m, jitter_ratio = 0.1)
Cooldown(60, jitter_ratio = 0.2)
Always()
Never()
RampUp(initial = 10%, final = 50%, duration = 1m)
Random(0.25)
10
30s
FailureRat(0.5)
FailureRate(2)
((((((((((((((((((((All()))))))))))))))))))))
breaker "payment-api" { tripper = FailureStreak(3); max_half_open_calls = 2; half_open_lease = 5s }
RampUp(35%, 0.35, 1.5h) | CountWindow(5m) | Cooldown(10%)
Backoff(700ms, max_duration = 0.7, multiplier = 2s)
150119987579016.550000000000000000000000000000000000000000000000000001m
1e-99999999999999999999h
EXPRS
# Byte-order marks, NUL bytes in names (the harness's first byte also picks
# the token limit of its small-token pass).
printf '\xef\xbb\xbfbreaker a { }\n' > "$out/compile/bom-start"
printf 'breaker a { }\xef\xbb\xbf' > "$out/compile/bom-inside"
printf 'breaker "a\0b" { }\nbreaker "a\0c" { tracker = Custom("x\0y") }\n' > "$out/compile/nul-names"

while IFS= read -r -d '' f; do
  n=$((n + 1)); cp "$f" "$out/trace/trace-$n-$(basename "$f")"
done < <(find policies tests -name '*.csv' -print0 2>/dev/null)
printf 'time,outcome,duration,status\n0,ok,0.1,200\n1,error,0,503\n2.5,timeout,0,\n' > "$out/trace/minimal.csv"
printf '\xef\xbb\xbftime,outcome,duration\n0,ok,1e9\n1e308,ok,0\n' > "$out/trace/huge-times.csv"

# vm: byte 0 picks overwrite (even) or patch (odd) mode, byte 1 the program.
printf '\x00\x00' > "$out/vm/keep-0"
printf '\x00\x01' > "$out/vm/keep-1"
printf '\x01\x00\x00\x00\xff\xff\xff\xff' > "$out/vm/patch-first"
printf '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' > "$out/vm/zeros"
head -c 256 /dev/zero | tr '\0' '\377' > "$out/vm/ones"

# snapshot: for each breaker (byte 0 = 2k+1), scripts reaching closed with a
# full window, open, half_open with leases, forced_open, metrics_only; a few
# patches of the state, the window and the leases; and raw bytes (byte 0 even).
k=0
for b in 1 3 5 7; do
  for script in '\x08\x11\x12\x11\x12\x11\x11\x12\x11' \
                '\x06\x12\x12\x12\x12\x08\x08' \
                '\x0c\x12\x12\x12\x12\x17\x17\x03\x03\x05\x00\x08' \
                '\x04\x11\x12\x06\x08' \
                '\x05\x11\x16\x11\x12\x12' \
                '\x0a\x12\x12\x12\x17\x03\x03\x08\x20\x00\x02\x24\x00\xff\x88\x01\x00\x40'; do
    k=$((k + 1)); printf "\\x$(printf %02x $b)$script" > "$out/snapshot/script-$k"
  done
done
printf '\x00FGSN\x01\x00\x88\x01' > "$out/snapshot/raw-header"
head -c 420 /dev/zero > "$out/snapshot/raw-zeros"

echo "seeds: $(ls "$out/compile" | wc -l) compile, $(ls "$out/vm" | wc -l) vm, $(ls "$out/trace" | wc -l) trace, $(ls "$out/snapshot" | wc -l) snapshot in $out"
