#!/usr/bin/env bash
# nginx_bench.sh -- make bench-nginx: nginx worker CPU per request, without and
# with fluxgate.nginx (access + log around the same content_by_lua), as a
# ratio from one run. A benchmark, not a test: it prints and never fails on
# numbers.
#
#   bash bench/nginx_bench.sh PREFIX LUADIR
#
# CPU is read from /proc/PID/stat (utime + stime) of the two workers before
# and after each fixed wrk run (1 thread, 8 connections, loopback); the
# server under test has no other Lua phase handler. Three locations: /bare,
# /empty_phases (empty access_by_lua and log_by_lua: what the two phase
# handlers cost by themselves) and /guarded (fluxgate.nginx's access + log).
# Runs alternate, 3 of each, and the best (lowest) of each is kept: the
# machine is shared, and contention only ever adds CPU.
set -u
cd "$(dirname "$0")/.."
PREFIX=$(mkdir -p "$1" && cd "$1" && pwd)
LUADIR=$(cd "$2" && pwd)
. tests/nginx/lib.sh
trap fg_nginx_stop EXIT
trap 'exit 2' INT TERM
SECONDS_PER_RUN=${SECONDS_PER_RUN:-4}

fg_nginx_start "$PREFIX" "$LUADIR" || exit 1
HZ=$(getconf CLK_TCK)

worker_ticks() { # utime + stime of every worker, in clock ticks
  local pid total=0 stat
  for pid in $NGX_WORKERS; do
    stat=$(cat "/proc/$pid/stat") || return 1
    stat=${stat##*) }                       # the fields after "(comm) "
    set -- $stat                            # $1 is field 3 (state)
    total=$((total + ${12} + ${13}))        # fields 14 and 15
  done
  echo "$total"
}

# run PATH -> "requests ticks"
run() {
  local before after requests
  before=$(worker_ticks)
  requests=$(wrk -t1 -c8 -d"${SECONDS_PER_RUN}s" "http://127.0.0.1:$NGX_BPORT$1" | awk '/requests in/ { print $1 }')
  after=$(worker_ticks)
  echo "$requests $((after - before))"
}

echo "nginx workers: $NGX_WORKERS (CLK_TCK $HZ); wrk -t1 -c8, ${SECONDS_PER_RUN} s a run"
declare -A best
for path in /bare /empty_phases /guarded; do
  wrk -t1 -c8 -d1s "http://127.0.0.1:$NGX_BPORT$path" > /dev/null
  best[$path]=1e9
done
for rep in 1 2 3; do
  for path in /bare /empty_phases /guarded; do
    read -r requests ticks <<<"$(run "$path")"
    us=$(awk -v t="$ticks" -v n="$requests" -v hz="$HZ" 'BEGIN { printf "%.3f", t / hz / n * 1e6 }')
    printf '  %-13s run %d: %8d requests, %5d ticks, %7s us CPU per request\n' "$path" "$rep" "$requests" "$ticks" "$us"
    best[$path]=$(awk -v a="${best[$path]}" -v b="$us" 'BEGIN { print (b < a) ? b : a }')
  done
done
awk -v b="${best[/bare]}" -v e="${best[/empty_phases]}" -v g="${best[/guarded]}" 'BEGIN {
  printf "worker CPU per request (best of 3): bare %.3f us, empty access+log handlers %.3f us, fluxgate.nginx %.3f us\n", b, e, g
  printf "ratio with fluxgate.nginx / bare: %.3f (+%.3f us); of that, the two Lua phase handlers alone: %.3f (+%.3f us)\n", g / b, g - b, e / b, e - b }'
