#!/usr/bin/env bash
# run.sh -- fluxgate.nginx in a real nginx (make test-nginx): Debian's nginx
# and Lua module, 2 workers, reuseport, 127.0.0.1 only, its own prefix.
#
#   bash tests/nginx/run.sh PREFIX LUADIR     e.g. build/nginx build/luajit
#
# Each scenario asserts; the last line is "N passed, N failed". Breakers are
# per worker, except the shared ones (shared_*: policy:shared_breaker), where
# both workers see one state: per-worker bounds are workers x threshold,
# shared ones the threshold (+ calls in flight). Everything started here is stopped on any
# exit (trap), and every request has a time limit.
set -u
cd "$(dirname "$0")/../.."
PREFIX=$(mkdir -p "$1" && cd "$1" && pwd)
LUADIR=$(cd "$2" && pwd)
. tests/nginx/lib.sh

passed=0 failed=0
wrk_pid=
finish() {
  [ -n "$wrk_pid" ] && kill "$wrk_pid" 2>/dev/null
  fg_nginx_stop
  echo "$passed passed, $failed failed"
}
trap finish EXIT
trap 'failed=$((failed + 1)); echo "not ok - interrupted"; exit 2' INT TERM

fg_nginx_start "$PREFIX" "$LUADIR" || { failed=$((failed + 1)); exit 1; }
echo "nginx: master $NGX_MASTER, workers $NGX_WORKERS, ports $NGX_PORT (upstream $NGX_UPORT, dead $NGX_DEADPORT)"
# the master's descriptors and zone mappings, compared after the reloads below
held() { echo "$(ls "/proc/$1/fd" 2>/dev/null | wc -l) fds, $(grep -c 'fluxgate-fg_test\.zone' "/proc/$1/maps" 2>/dev/null) zone mappings"; }
held_at_start=$(held "$NGX_MASTER")
BASE="http://127.0.0.1:$NGX_PORT"

ctl() { curl -s -m 5 "$BASE/_test/$1"; }
mode() { ctl "set?mode=$1&${2:-}" > /dev/null; }
hits() { ctl "hits?reset=${1:-}"; }
# N requests to PATH, each on a new connection (so reuseport spreads them over
# the workers); prints "status retry-after" per request.
burst() {
  local args=() i
  for ((i = 0; i < $2; i++)); do args+=(-o /dev/null "$BASE$1?i=$i"); done
  curl -s -m 60 -H 'Connection: close' -w '%{http_code} %header{retry-after}\n' "${args[@]}"
}
report() { ctl report > "$PREFIX/report.txt"; cat "$PREFIX/report.txt"; }
# field F (1-based) of breaker NAME summed over the workers of the last report
sum() { awk -v n="$1" -v f="$2" '$2 == n { s += $f } END { printf "%s\n", s + 0 }' "$PREFIX/report.txt"; }
# field F of shared breaker NAME: the same block in every worker, so the first line
first() { awk -v n="$1" -v f="$2" '$2 == n { print $f; exit }' "$PREFIX/report.txt"; }
states() { awk -v n="$1" '$2 == n { print $3 }' "$PREFIX/report.txt" | sort | tr '\n' ' '; }
# report fields: 3 state 4 total 5 failures 6 total_duration 7 slow@1s 8 success 9 failure 10 ignored 11 rejected
le() { [ "$1" -le "$2" ]; }
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
all_are() { # VALUE LINES...: every line's first field is VALUE
  local v=$1; shift
  [ -n "$*" ] && ! printf '%s\n' "$@" | awk -v v="$v" '$1 != v { bad = 1 } END { exit !bad }'
}
fcmp() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN { exit !((op == "<" && a < b) || (op == ">=" && a >= b)) }'; }

echo "# opening on upstream 5xx (breaker api: FailureStreak(5), Cooldown(3s))"
mode 5xx; hits 1 > /dev/null
out=$(burst /api/x 40)
n=$(hits 1)
check "at most workers x threshold = 10 upstream failures got through (saw $n)" between "$n" 5 10
# (counted, not read at fixed places: the kernel decides which worker takes
# each connection, so a worker may reach its threshold late in the burst)
check "the other $((40 - n)) requests were rejected with 503" \
  bash -c '[ "$(grep -c "^503 " <<<"$1")" = "$2" ]' _ "$out" "$((40 - n))"
ra=$(awk '$1 == 503 { print ($2 == "" ? "none" : $2) }' <<<"$out" | sort -u | tr '\n' ' ')
check "every 503 carries Retry-After, the cooldown left rounded up: 1 to 3 (got: $ra)" \
  bash -c '[ -n "$1" ] && [ -z "$(tr " " "\n" <<<"$1" | grep -vxE "[123]|")" ]' _ "$ra"
report > /dev/null
check "both workers' api breakers are open ($(states api))" [ "$(states api)" = "open open " ]

echo "# recovery to closed after the cooldown"
mode ok; sleep 3.2
out=$(burst /api/x 20)
check "the last 10 requests after the cooldown succeeded" all_are 200 "$(tail -10 <<<"$out")"
report > /dev/null
check "both workers' api breakers closed again ($(states api))" [ "$(states api)" = "closed closed " ]

echo "# shared opening: one state for both workers (shared_api: FailureStreak(5), Cooldown(3s))"
mode 5xx; hits 1 > /dev/null
out=$(burst /shared/x 40)
n=$(hits 1)
# The bound is the threshold plus the calls in flight: a request's outcome is
# recorded in its log phase, after its response went out, so the client's next
# request (on the other worker) may be admitted just before it: 5 or 6.
check "the threshold's 5 upstream failures (+1 in flight) got through with 2 workers, not 2 x 5 (saw $n)" \
  bash -c '[ "$1" -ge 5 ] && [ "$1" -le 6 ]' _ "$n"
check "the other $((40 - n)) requests were rejected with 503" \
  bash -c '[ "$(grep -c "^503 " <<<"$1")" = "$2" ]' _ "$out" "$((40 - n))"
report > /dev/null
check "both workers see the one state: open ($(states shared_api))" [ "$(states shared_api)" = "open open " ]
check "the shared block counted $n failures and $((40 - n)) rejections ($(first shared_api 9), $(first shared_api 11))" \
  [ "$(first shared_api 9)-$(first shared_api 11)" = "$n-$((40 - n))" ]
heard() { awk '$2 == "_worker" { print $8 }' "$PREFIX/report.txt" | tr ',' '\n' | grep -c "^$1#" ; }
check "the opening reached the listeners of one worker, once ($(heard shared_api:closed\>open))" \
  [ "$(heard 'shared_api:closed>open')" = 1 ]

echo "# shared recovery to closed"
mode ok; sleep 3.2
out=$(burst /shared/x 10)
report > /dev/null
check "after the cooldown every request succeeds" all_are 200 "$out"
check "both workers see it closed ($(states shared_api))" [ "$(states shared_api)" = "closed closed " ]
check "open>half_open and half_open>closed were each heard once, by the worker that caused them" \
  bash -c '[ "$1" = 1 ] && [ "$2" = 1 ]' _ "$(heard 'shared_api:open>half_open')" "$(heard 'shared_api:half_open>closed')"

echo "# shared family: per-upstream keys over both workers (sfam_upstream: FailureStreak(4), Cooldown(60s))"
fam_metric() { # TEXT SERIES-SUFFIX: the value of circuit_breaker_SERIES-SUFFIX for sfam_upstream
  grep -F "circuit_breaker_$2" <<<"$1" | awk '{ print $2 }'
}
mode 5xx; hits 1 > /dev/null
out=$(burst /fam/bad/x 20)
n=$(hits 1)
# (a request's outcome is recorded in its log phase, after the answer: the
# next request, on the other worker, may be admitted meanwhile: one in flight)
check "key 'bad': the threshold's 4 upstream failures (+ 1 in flight) got through with 2 workers, not 2 x 4 (saw $n)" \
  between "$n" 4 5
check "key 'bad': the other $((20 - n)) requests were rejected with 503" \
  bash -c '[ "$(grep -c "^503 " <<<"$1")" = "$2" ]' _ "$out" "$((20 - n))"
mode ok
out=$(burst /fam/good/x 10)
check "key 'good' stays closed: 10 of 10 reach the upstream" all_are 200 "$out"
fam_scrapes=
for i in 1 2 3 4 5 6; do
  t=$(curl -s -m 5 -H 'Connection: close' "$BASE/metrics")
  fam_scrapes="$fam_scrapes$(fam_metric "$t" 'family_state{circuit_name="sfam_upstream",state="open"}')/$(fam_metric "$t" 'family_state{circuit_name="sfam_upstream",state="closed"}')/$(fam_metric "$t" 'calls_total{circuit_name="sfam_upstream",outcome="failure"}')/$(fam_metric "$t" 'calls_total{circuit_name="sfam_upstream",outcome="success"}')/$(fam_metric "$t" 'calls_total{circuit_name="sfam_upstream",outcome="rejected"}') "
done
check "every scrape, whichever worker answers, has the family's totals: 1 open/1 closed key, $n failures, 10 successes, $((20 - n)) rejections ($fam_scrapes)" \
  bash -c '[ -z "$(tr " " "\n" <<<"$1" | grep -v "^$" | grep -vx "$2")" ]' _ "$fam_scrapes" "1/1/$n/10/$((20 - n))"

echo "# a shared breaker one worker made after the fork is exported by every worker alike"
maker=$(curl -s -m 5 -H 'Connection: close' "$BASE/lazy/x")
lazy_scrapes=
for i in $(seq 1 16); do
  t=$(curl -s -m 5 -H 'Connection: close' "$BASE/metrics/worker")
  w=$(grep -o '^circuit_breaker_calls_total{worker="[0-9]*"' <<<"$t" | head -1 | grep -o '[0-9]*')
  lazy_scrapes="$lazy_scrapes$w:$(grep -F 'circuit_name="lazy_shared",outcome="failure"}' <<<"$t" | awk '{ print $2 }')/$(grep -F 'circuit_name="lazy_shared",state="closed"}' <<<"$t" | awk '{ print $2 }') "
done
check "worker $maker made it; every scrape, from both workers, has its 3 failures and its state ($lazy_scrapes)" \
  bash -c '[ -z "$(tr " " "\n" <<<"$1" | grep -v "^$" | grep -v ":3/1$")" ] && [ "$(tr " " "\n" <<<"$1" | grep -v "^$" | cut -d: -f1 | sort -u | wc -l)" = 2 ]' _ "$lazy_scrapes"

echo "# families in access(): a per-worker policy:family, and a key nginx has not set yet"
mode 5xx; hits 1 > /dev/null
out=$(burst /pfam/bad/x 20)
n=$(hits 1)
check "policy:family (a userdata) is taken with a key: key 'bad' let through at most workers x FailureStreak(2) = 4 failures (saw $n)" \
  between "$n" 2 4
check "...and the other $((20 - n)) requests were rejected with 503" \
  bash -c '[ "$(grep -c "^503 " <<<"$1")" = "$2" ]' _ "$out" "$((20 - n))"
mode ok
out=$(burst /pfam/good/x 6)
check "key 'good' of the same family stays closed: 6 of 6 reach the upstream" all_are 200 "$out"
lines=$(wc -l < "$PREFIX/error.log")
out=$(burst /fam_proxy_host/x 4)
check "access(fam, ngx.var.proxy_host), nil in the access phase, lets the requests through unprotected (4 x 200)" \
  all_are 200 "$out"
check "...and error.log says the key is nil" \
  bash -c 'tail -n +"$(($1 + 1))" "$2" | grep -q "no breaker for key nil: the key is nil"' _ "$lines" "$PREFIX/error.log"

echo "# transport failures named as the policies name them (breakers with TypeOf() trackers only)"
mode 5xx
out=$(burst /typed/x 10)
check "an upstream 500 is not a transport error: TypeOf(\"connection refused\", \"timeout\") never opens" \
  all_are 500 "$out"
mode refused
out=$(burst /typed/x 20)
report > /dev/null
# (which worker takes each connection is the kernel's choice: a worker may
# see its second refused call late in the burst, so the answers are counted,
# not read at fixed places)
check "a refused connection is \"connection refused\": each worker's breaker opened after 2 (4 x 502, then 16 x 503)" \
  bash -c '[ "$(grep -c "^502" <<<"$1")" = 4 ] && [ "$(grep -c "^503" <<<"$1")" = 16 ]' _ "$out"
check "exactly workers x FailureStreak(2) = 4 refused calls were recorded ($(sum typed 9))" [ "$(sum typed 9)" = 4 ]
mode slow delay=1
out=$(burst /typed_timeout/x 16)
report > /dev/null
check "an upstream timeout (proxy_read_timeout) is \"timeout\": 4 recorded ($(sum typed_timeout 9)), then 503s" \
  bash -c '[ "$1" = 4 ] && [ "$(grep -c "^504" <<<"$2")" = 4 ] && [ "$(grep -c "^503" <<<"$2")" = 12 ]' _ \
  "$(sum typed_timeout 9)" "$out"

echo "# every server of an upstream block marked failed (nginx's \"no live upstreams\")"
# One keep-alive connection, so one worker (whose servers' failures count):
# the first request is refused by both servers, which marks both failed; the
# second finds none left, nginx's "no live upstreams" (its \$upstream_status
# is 502 as for a refusal, its \$upstream_addr the block's name).
out=$(curl -s -m 10 -w '%{http_code}\n' -o /dev/null "$BASE/nolive/a" -o /dev/null "$BASE/nolive/b" -o /dev/null "$BASE/nolive/c")
report > /dev/null
check "\"no live upstreams\" is named so, not \"connection refused\": TypeOf(\"no live upstreams\") opened on the second request (502 502 503: $(tr '\n' ' ' <<<"$out"); $(sum nolive 9) failure)" \
  bash -c '[ "$(tr "\n" " " <<<"$1")" = "502 502 503 " ] && [ "$2" = 1 ]' _ "$out" "$(sum nolive 9)"

echo "# a client that stops sending its body to an unbuffered upload (proxy_request_buffering off)"
mode ok
# 10 of the 100 bytes announced, then nothing: nginx, connected to the
# upstream and streaming the body, answers 408 after client_body_timeout
# (500 ms); then the same, closing the connection mid-body (400).
stalled=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf "POST /upload/stall HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789" >&3
  head -c 12 <&3' _ "$NGX_PORT")
timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf "POST /upload/cut HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789" >&3
  sleep 0.2' _ "$NGX_PORT"
sleep 0.2
out=$(burst /upload/x 4)
report > /dev/null
check "the client's stall and cut are its own, not the upstream's: 2 ignored ($(sum upload 10)), no failure ($(sum upload 9)), the breaker (FailureStreak(1)) still closed: ${stalled:-no answer}; $(tr '\n' ' ' <<<"$out")" \
  bash -c '[ "$1" = 2 ] && [ "$2" = 0 ] && [ -z "$(grep -v "^200 " <<<"$3")" ]' _ "$(sum upload 10)" "$(sum upload 9)" "$out"

echo "# slow upstream vs slow client (breaker slow: SlowRate threshold 1s)"
mode slow delay=1.2
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$BASE/slow/upstream")
mode big size=1000000
# A client that reads 64 KiB every 0.15 s (curl's --limit-rate is too bursty
# to rely on), through bash's /dev/tcp; bounded by timeout.
got=$(timeout 20 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf "GET /slow/client HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3
  total=0
  for _ in $(seq 1 100); do
    n=$(head -c 65536 <&3 | wc -c); [ "$n" -gt 0 ] || break
    total=$((total + n)); sleep 0.15
  done
  echo "$total"' _ "$NGX_PORT")
t=$(ctl "time?uri=/slow/client")
report > /dev/null
echo "  slow upstream answered $code; the slow client read ${got:-0} bytes, nginx took ${t}s to send them"
check "the client really was slow (nginx's request_time >= 1.5 s)" fcmp "$t" ">=" 1.5
check "two calls recorded ($(sum slow 4))" [ "$(sum slow 4)" = 2 ]
check "only the slow upstream counts as slow ($(sum slow 7) slow calls at 1 s)" [ "$(sum slow 7)" = 1 ]
d=$(sum slow 6)
check "the recorded time is the upstream's (total $d s: 1.2 s + a fast transfer, not the client's ${t} s)" \
  bash -c 'awk -v d="$1" "BEGIN { exit !(d >= 1.15 && d < 1.7) }"' _ "$d"
# proxy_buffering off: nginx reads the upstream's body only as fast as the
# client takes it, so $upstream_response_time is the client's time too.
got=$(timeout 20 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf "GET /unbuffered/client HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3
  total=0
  for _ in $(seq 1 100); do
    n=$(head -c 65536 <&3 | wc -c); [ "$n" -gt 0 ] || break
    total=$((total + n)); sleep 0.15
  done
  echo "$total"' _ "$NGX_PORT")
t=$(ctl "time?uri=/unbuffered/client")
report > /dev/null
d=$(sum unbuffered 6)
check "unbuffered (proxy_buffering off), the slow client's read of ${got:-0} bytes in ${t}s is not the upstream's time: $d s recorded, not slow ($(sum unbuffered 7) slow)" \
  bash -c 'awk -v d="$1" -v t="$2" "BEGIN { exit !(t >= 1.5 && d < 0.5) }" && [ "$3" = 0 ] && [ "$4" = 1 ]' \
  _ "$d" "$t" "$(sum unbuffered 7)" "$(sum unbuffered 4)"

echo "# error_page + proxy_intercept_errors (the request ends in a named location)"
mode 5xx; hits 1 > /dev/null
out=$(burst /intercept/x 30)
n=$(hits 1)
report > /dev/null
check "every answer is the fallback page's 200" all_are 200 "$out"
check "the breaker opened: at most workers x FailureStreak(3) = 6 upstream calls (saw $n)" between "$n" 3 6
check "every upstream failure was recorded ($(sum intercept 9) of $n)" [ "$(sum intercept 9)" = "$n" ]
before=$(ctl "counted?name=own_log")
out=$(burst /intercept_own/x 30)
n=$(hits 1)
after=$(ctl "counted?name=own_log")
report > /dev/null
check "a fallback location with its own log_by_lua (which calls log()) ran it for all 30 requests" \
  [ $((after - before)) = 30 ]
check "...and released there: at most 6 upstream calls (saw $n), each recorded once ($(sum intercept_own 9))" \
  bash -c '[ "$1" -ge 3 ] && [ "$1" -le 6 ] && [ "$2" = "$1" ]' _ "$n" "$(sum intercept_own 9)"

echo "# client abort (upstream_status \"-\", status 499)"
mode slow delay=2
for i in 1 2 3; do curl -s -m 0.3 -o /dev/null "$BASE/abort/x$i"; done
sleep 0.3
report > /dev/null
check "3 aborted calls are ignored ($(sum abort 10)), not successes ($(sum abort 8)) nor failures ($(sum abort 9))" \
  bash -c '[ "$1" = 3 ] && [ "$2" = 0 ] && [ "$3" = 0 ]' _ "$(sum abort 10)" "$(sum abort 8)" "$(sum abort 9)"

echo "# load (wrk, 2 x 3 s, loopback) with 50 + 20 metrics scrapes during the second run"
mode ok
cat > "$PREFIX/mix.lua" <<'LUA'
local paths, i = { "/load/a", "/api/b", "/intercept/c", "/typed/d", "/slow/e", "/shared/f", "/fam/good/g", "/fam/h1/g" }, 0
request = function() i = i % #paths + 1; return wrk.format(nil, paths[i]) end
LUA
wrk -t2 -c16 -d3s -s "$PREFIX/mix.lua" "$BASE" > "$PREFIX/wrk1.txt" 2>&1
report > /dev/null
kib1=$(awk '$2 == "_worker" { print $6 }' "$PREFIX/report.txt" | tr '\n' ' ')
wrk -t2 -c16 -d3s -s "$PREFIX/mix.lua" "$BASE" > "$PREFIX/wrk2.txt" 2>&1 &
wrk_pid=$!
rm -rf "$PREFIX/scrapes"; mkdir -p "$PREFIX/scrapes"
ctypes=
for i in $(seq -w 1 50); do
  ctypes="$ctypes$(curl -s -m 5 -o "$PREFIX/scrapes/plain-$i.txt" -w '%{content_type}\n' "$BASE/metrics")"$'\n'
done
for i in $(seq -w 1 20); do
  curl -s -m 5 -o "$PREFIX/scrapes/worker-$i.txt" "$BASE/metrics/worker"
done
wait "$wrk_pid"; wrk_pid=
# wrk stops by closing its connections: requests it was waiting for (the
# slow upstream's) still finish in nginx and release their admissions in
# the log phase, so the pending count is read once they had time to; a
# lost release stays pending however long this waits.
for _ in $(seq 1 50); do
  report > /dev/null
  [ "$(awk '$2 == "_worker" { s += $3 } END { print s + 0 }' "$PREFIX/report.txt")" = 0 ] && break
  sleep 0.1
done
kib2=$(awk '$2 == "_worker" { print $6 }' "$PREFIX/report.txt" | tr '\n' ' ')
echo "  $(grep -E 'requests in|Requests/sec' "$PREFIX/wrk1.txt" "$PREFIX/wrk2.txt" | tr -s ' ' | tr '\n' ';')"
requests=$(awk '/requests in/ { s += $1 } END { print s + 0 }' "$PREFIX/wrk1.txt" "$PREFIX/wrk2.txt")
check "wrk completed requests ($requests)" [ "$requests" -gt 1000 ]
check "every scrape has the exposition's content type" \
  bash -c '[ "$(grep -c "^text/plain; version=0.0.4; charset=utf-8$" <<<"$1")" = 50 ]' _ "$ctypes"
bad=$(cat "$PREFIX"/scrapes/*.txt | grep -vE '^(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+|# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (gauge|counter)|[a-zA-Z_:][a-zA-Z0-9_:]*\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\} [0-9]+)$' | head -3)
check "all 70 scrapes parse as exposition lines${bad:+ (bad: $bad)}" [ -z "$bad" ]
bad=$(luajit tests/nginx/prom_check.lua "$PREFIX"/scrapes/*.txt | head -3)
check "...and pass a strict 0.0.4 reader (tests/nginx/prom_check.lua: TYPE before samples, one group per metric, no series twice, escapes)${bad:+: $bad}" \
  [ -z "$bad" ]
check "every scrape names every breaker" \
  bash -c 'for f in "$1"/scrapes/*.txt; do [ "$(grep -c "^circuit_breaker_calls_total{.*outcome=\"rejected\"}" "$f")" = 18 ] || exit 1; done' _ "$PREFIX"
workers=$(cat "$PREFIX"/scrapes/worker-*.txt | grep -o 'worker="[0-9]*"' | sort -u | wc -l)
check "worker-labelled scrapes reached both workers ($workers)" [ "$workers" = 2 ]
decreasing=$(for f in "$PREFIX"/scrapes/worker-*.txt; do grep '^circuit_breaker_.*_total{' "$f"; done |
  awk '{ if (($1 in last) && $2 + 0 < last[$1]) bad++; last[$1] = $2 + 0 } END { print bad + 0 }')
check "with the worker label no counter ever decreases across scrapes ($decreasing decreases)" [ "$decreasing" = 0 ]
decreasing=$(for f in "$PREFIX"/scrapes/plain-*.txt; do grep -E '^circuit_breaker_.*_total\{circuit_name="(shared_|sfam_)' "$f"; done |
  awk '{ if (($1 in last) && $2 + 0 < last[$1]) bad++; last[$1] = $2 + 0; n++ } END { print bad + 0, n + 0 }')
check "the shared breakers' and the shared family's counters never decrease across the 50 plain scrapes, whichever worker answers ($decreasing)" \
  bash -c '[ "${1%% *}" = 0 ] && [ "${1##* }" -ge 50 ]' _ "$decreasing"
pending=$(awk '$2 == "_worker" { s += $3 } END { print s + 0 }' "$PREFIX/report.txt")
check "no admission is left pending after the load ($pending)" [ "$pending" = 0 ]
growth=$(awk -v a="$kib1" -v b="$kib2" 'BEGIN { n = split(a, x, " "); split(b, y, " "); m = 0
  for (i = 1; i <= n; i++) if (y[i] - x[i] > m) m = y[i] - x[i]; print m }')
check "Lua memory after a full GC does not grow with requests (KiB per worker: $kib1-> $kib2)" [ "$growth" -lt 256 ]

echo "# error.log"
crash=$(grep -E '\[(alert|crit|emerg)\]|exited on signal|core dumped|lua entry thread aborted|runtime error|AddressSanitizer' "$PREFIX/error.log" | head -5)
check "no crash, alert or Lua error line in error.log${crash:+: $crash}" [ -z "$crash" ]

# ---- shared breakers: SIGKILL, reload (after the crash check: these kill workers)
workers_of() { ps -o pid= --ppid "$NGX_MASTER" | tr -s ' \n' ' '; }
wait_workers() { # OLD-PIDS: until 2 workers that are not in OLD-PIDS run
  local i p n
  for i in $(seq 1 100); do
    n=0; for p in $(workers_of); do grep -qw "$p" <<<"$1" || n=$((n + 1)); done
    [ "$n" -ge 2 ] && return 0; sleep 0.05
  done
  return 1
}
wait_gone() { # OLD-PIDS: until none of them runs (old workers finish gracefully), at most 5 s
  local i p alive
  for i in $(seq 1 100); do
    alive=; for p in $1; do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = nginx ] && alive=1; done
    [ -z "$alive" ] && return 0; sleep 0.05
  done
  return 1
}
quick() { # N PATH: N requests, each bounded by 5 s; prints the status codes
  local i; for ((i = 0; i < $1; i++)); do curl -s -m 5 -o /dev/null -H 'Connection: close' -w '%{http_code}\n' "$BASE$2?k=$i"; done
}

echo "# SIGKILL of a worker that holds a shared breaker's lock (debug endpoint /_test/hold)"
mode ok
before=$(workers_of)
victim=$(curl -s -m 1 "$BASE/_test/hold?name=shared_api" | head -1)
check "a worker took shared_api's lock and keeps it ($victim)" grep -qw "$victim" <<<"$before"
kill -KILL "$victim"
wait_workers "$victim"
t0=$(date +%s%N)
out=$(quick 10 /shared/x)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "the breaker is not wedged: 10 requests answered 200 in ${ms} ms (the lock was taken over)" \
  bash -c '[ -z "$(grep -v "^200$" <<<"$1")" ] && [ "$2" -lt 5000 ]' _ "$out" "$ms"
report > /dev/null
check "and it still counts: closed, successes recorded ($(first shared_api 8))" \
  bash -c '[ "$1" = closed ] && [ "$2" -ge 10 ]' _ "$(first shared_api 3)" "$(first shared_api 8)"

echo "# SIGKILL of a worker with a shared half-open probe in flight (shared_probe: 1 slot, 2 s lease)"
mode 5xx
out=$(quick 1 /probe/x)
mode slow delay=6
sleep 1.1
curl -s -m 10 -o /dev/null "$BASE/probe/x?probe" & probe_curl=$!
sleep 0.4
report > /dev/null
victim=$(awk '$2 == "_worker" && $3 == 1 { print $7 }' "$PREFIX/report.txt" | head -1)
check "one worker holds the probe ($victim; shared_probe $(first shared_probe 3))" \
  bash -c '[ -n "$1" ] && [ "$2" = half_open ]' _ "$victim" "$(first shared_probe 3)"
before=$(workers_of)
[ -n "$victim" ] && kill -KILL "$victim"
wait "$probe_curl" 2>/dev/null
wait_workers "$victim"
mode ok
out=$(quick 1 /probe/x)
check "right after the kill the slot is still leased: 503 ($out)" [ "$out" = 503 ]
sleep 2
out=$(quick 3 /probe/x)
report > /dev/null
check "once the lease is over a new probe passes and closes it ($(tr '\n' ' ' <<<"$out"); $(first shared_probe 3))" \
  bash -c '[ -z "$(grep -v "^200$" <<<"$1")" ] && [ "$2" = closed ]' _ "$out" "$(first shared_probe 3)"

shared_counters() { curl -s -m 5 "$BASE/metrics" | grep -E '^circuit_breaker_.*_total\{circuit_name="(shared_|sfam_)' | sort; }
not_less() { # BEFORE AFTER: every counter of BEFORE is in AFTER with a value not smaller
  awk 'NR == FNR { b[$1] = $2; next } { a[$1] = $2 } END { for (k in b) if (!(k in a) || a[k] + 0 < b[k] + 0) bad++; exit bad > 0 }' \
    <(printf '%s\n' "$1") <(printf '%s\n' "$2")
}

echo "# nginx -s reload keeps the shared state (definition unchanged)"
mode 5xx
out=$(quick 10 /shared/x)
m1=$(shared_counters)
before=$(workers_of)
lines=$(wc -l < "$PREFIX/error.log")
kill -HUP "$NGX_MASTER"
wait_workers "$before"
out=$(quick 3 /shared/x)
m2=$(shared_counters)
check "still open after the reload: the new workers reject ($(tr '\n' ' ' <<<"$out"))" all_are 503 "$out"
check "every shared counter continued across the reload (none decreased)" not_less "$m1" "$m2"
check "rejections kept counting: $(grep -o 'shared_api",outcome="rejected"} [0-9]*' <<<"$m1" | awk '{print $2}') -> $(grep -o 'shared_api",outcome="rejected"} [0-9]*' <<<"$m2" | awk '{print $2}')" \
  bash -c '[ "$(grep -o "shared_api\",outcome=\"rejected\"} [0-9]*" <<<"$2" | cut -d" " -f2)" -gt "$(grep -o "shared_api\",outcome=\"rejected\"} [0-9]*" <<<"$1" | cut -d" " -f2)" ]' _ "$m1" "$m2"
out=$(quick 3 /fam/bad/x; quick 2 /fam/good/x)
check "the shared family kept every key: 'bad' still open, 'good' closed ($(tr '\n' ' ' <<<"$out"))" \
  [ "$(tr '\n' ' ' <<<"$out")" = "503 503 503 500 500 " ]
check "no 'changed definition' notice for an unchanged policy" \
  bash -c '! tail -n +"$(($1 + 1))" "$2" | grep -q "changed definition"' _ "$lines" "$PREFIX/error.log"

echo "# a changed definition on reload starts fresh, says so at notice level, keeps the counters"
sed -i '/^breaker shared_api {/,/^}/ s/FailureStreak(5)/FailureStreak(4)/' "$PREFIX/policy.fgp"
m1=$(shared_counters)
before=$(workers_of)
lines=$(wc -l < "$PREFIX/error.log")
kill -HUP "$NGX_MASTER"
wait_workers "$before"
notice=$(tail -n +"$((lines + 1))" "$PREFIX/error.log" | grep -m1 "shared breaker 'shared_api' in zone 'fg_test' has a changed definition")
check "error.log says so at notice level (${notice:0:150})" grep -q '\[notice\]' <<<"$notice"
check "the shared family (unchanged) was attached, not renewed" \
  bash -c '! tail -n +"$(($1 + 1))" "$2" | grep -q "shared family.*changed"' _ "$lines" "$PREFIX/error.log"
check "shared_probe (unchanged) was attached, not renewed" \
  bash -c '! tail -n +"$(($1 + 1))" "$2" | grep -q "shared_probe.*changed definition"' _ "$lines" "$PREFIX/error.log"
wait_gone "$before" # an old worker, still draining, answers from the old (open) block
out=$(quick 3 /shared/x)
check "the new definition starts closed: the 5xx upstream is reached again ($(tr '\n' ' ' <<<"$out"))" all_are 500 "$out"
m2=$(shared_counters)
check "the counters carried over to the new block (none decreased)" not_less "$m1" "$m2"
mode ok

echo "# changed definitions reloaded under load: every call answered is counted once, no scrape decreases"
# Load on shared_reload and sfam_reload (40 % answered 500 by the upstream:
# both open and close now and then) from 3 keep-alive clients, while the policy changes
# their cooldown before each of RELOADS reloads: each reload makes each a new
# block (table) that the new workers count into, while the old workers still
# answer their clients and count into the old one. Two scrapers run through
# it: one keep-alive (answered by an old worker until it closes the
# connection, then by a new one) and one with a new connection per scrape.
RELOADS=10
rl_calls() { # SCRAPE NAME: every outcome of NAME's calls
  grep -F "circuit_breaker_calls_total{circuit_name=\"$2\"," <<<"$1" | awk '{ s += $2 } END { print s + 0 }'
}
mode ok
t=$(curl -s -m 5 "$BASE/metrics")
rl_before_b=$(rl_calls "$t" shared_reload) rl_before_f=$(rl_calls "$t" sfam_reload)
rm -rf "$PREFIX/rl" && mkdir -p "$PREFIX/rl"
rl_load() { # N: a client's loop of keep-alive batches until $PREFIX/rl/stop exists
  local i args batch=0
  while [ ! -e "$PREFIX/rl/stop" ]; do
    args=() batch=$((batch + 1))
    for ((i = 0; i < 40; i++)); do
      local way=ok; [ $((i % 5)) -ge 3 ] && way=fail
      if [ $((i % 2)) = 0 ]; then args+=(-o /dev/null "$BASE/reload/$way/$1-$batch-$i")
      else args+=(-o /dev/null "$BASE/sfreload/k$((i % 3))/$way/$1-$batch-$i"); fi
    done
    curl -s -m 20 -w '%{http_code} %{url_effective}\n' "${args[@]}" >> "$PREFIX/rl/answers-$1.txt"
  done
}
rl_scrape() { # KIND ARGS...: 50 scrapes, 12 a second, each into its own file
  local kind=$1 i args=(); shift
  for i in $(seq -w 1 50); do args+=(-o "$PREFIX/rl/$kind-$i.txt" "$BASE/metrics"); done
  curl -s -m 30 --rate 12/s "$@" "${args[@]}"
}
rl_pids=
for c in 1 2 3; do rl_load "c$c" & rl_pids="$rl_pids $!"; done
rl_scrape keepalive & rl_pids="$rl_pids $!"
rl_scrape close -H 'Connection: close' & rl_pids="$rl_pids $!"
sleep 0.3
rl_reloads=0 rl_old=
for r in $(seq 1 "$RELOADS"); do
  if [ $((r % 2)) = 1 ]; then sed -i 's/Cooldown(200ms)/Cooldown(300ms)/' "$PREFIX/policy.fgp"
  else sed -i 's/Cooldown(300ms)/Cooldown(200ms)/' "$PREFIX/policy.fgp"; fi
  rl_old="$rl_old $(workers_of)"
  lines=$(wc -l < "$PREFIX/error.log")
  kill -HUP "$NGX_MASTER"
  # the reload ran once both notices are in error.log
  for _ in $(seq 1 100); do
    [ "$(tail -n +"$((lines + 1))" "$PREFIX/error.log" | grep -cE "(shared breaker 'shared_reload'|shared family 'sfam_reload') in zone 'fg_test' has a changed")" = 2 ] &&
      { rl_reloads=$((rl_reloads + 1)); break; }
    sleep 0.05
  done
  sleep 0.25
done
touch "$PREFIX/rl/stop"
for p in $rl_pids; do wait "$p"; done
# every old worker has finished draining (its last calls are counted) before the last scrapes
wait_gone "$rl_old"
rl_old_left=$?
answered() { # PREFIX-OF-PATH: answers (any status) to requests on it; 000 is no answer
  cat "$PREFIX"/rl/answers-*.txt | awk -v p="$BASE$1" '$1 != "000" && index($2, p) == 1 { n++ } END { print n + 0 }'
}
unanswered=$(cat "$PREFIX"/rl/answers-*.txt | awk '$1 == "000"' | wc -l)
rl_ans_b=$(answered /reload/) rl_ans_f=$(answered /sfreload/)
codes=$(cat "$PREFIX"/rl/answers-*.txt | awk '{ print $1 }' | sort | uniq -c | awk '{ printf "%s x %s, ", $1, $2 }')
echo "  $rl_reloads reloads; answers: ${codes%, }"
check "$RELOADS reloads ran, each with the changed-definition notices, and the old workers finished draining" \
  bash -c '[ "$1" = "$2" ] && [ "$3" = 0 ]' _ "$rl_reloads" "$RELOADS" "$rl_old_left"
check "the load had some substance: $rl_ans_b + $rl_ans_f requests answered, rejections among them" \
  bash -c '[ "$1" -ge 200 ] && [ "$2" -ge 200 ] && grep -q "^503 " "$3"/rl/answers-*.txt' _ "$rl_ans_b" "$rl_ans_f" "$PREFIX"
rl_final=
for i in 1 2 3 4 5 6; do
  t=$(curl -s -m 5 -H 'Connection: close' "$BASE/metrics")
  rl_final="$rl_final$(rl_calls "$t" shared_reload)/$(rl_calls "$t" sfam_reload) "
done
want="$((rl_before_b + rl_ans_b))/$((rl_before_f + rl_ans_f))"
by_status() { # PREFIX-OF-PATH: answers by status
  cat "$PREFIX"/rl/answers-*.txt | awk -v p="$BASE$1" 'index($2, p) == 1 { n[$1]++ } END { for (c in n) printf "%s:%d ", c, n[c] }'
}
by_outcome() { # NAME: counted by outcome, in the last scrape
  grep -F "circuit_breaker_calls_total{circuit_name=\"$1\"," <<<"$t" | sed 's/.*outcome="\([a-z]*\)"} /\1:/' | tr '\n' ' '
}
echo "  shared_reload: answered $(by_status /reload/)(before: $rl_before_b); counted $(by_outcome shared_reload)"
echo "  sfam_reload: answered $(by_status /sfreload/)(before: $rl_before_f); counted $(by_outcome sfam_reload)"
check "every answered call counted exactly once, from either worker: success + failure + ignored + rejected = $want (scrapes: $rl_final; $unanswered unanswered)" \
  bash -c '[ -z "$(tr " " "\n" <<<"$1" | grep -v "^$" | grep -vx "$2")" ]' _ "$rl_final" "$want"
rl_decreases() { # KIND: decreases of any shared_reload/sfam_reload counter along that scraper's files, and the files
  for f in "$PREFIX"/rl/"$1"-*.txt; do
    grep -E '^circuit_breaker_.*_total\{circuit_name="(shared|sfam)_reload"' "$f"; echo "--"
  done | awk '$1 == "--" { files++; next } { if (($1 in last) && $2 + 0 < last[$1]) bad++; last[$1] = $2 + 0 }
              END { print bad + 0, files + 0 }'
}
d_keep=$(rl_decreases keepalive) d_close=$(rl_decreases close)
check "no counter decreases along the keep-alive scrapes ($d_keep: decreases, scrapes) nor along the new-connection ones ($d_close)" \
  bash -c '[ "${1%% *}" = 0 ] && [ "${2%% *}" = 0 ] && [ "${1##* }" -ge 40 ] && [ "${2##* }" -ge 40 ]' _ "$d_keep" "$d_close"
rl_series() { grep -E '^circuit_breaker_.*_total\{circuit_name="(shared|sfam)_reload"' "$@" | sort; }
last_final=$(curl -s -m 5 "$BASE/metrics" | rl_series)
below=0
for f in "$PREFIX"/rl/keepalive-*.txt "$PREFIX"/rl/close-*.txt; do not_less "$(rl_series "$f")" "$last_final" || below=$((below + 1)); done
check "and a scrape after the load reads at least what every scrape made during it read ($below read more)" [ "$below" = 0 ]

echo "# a broken policy and a reload (the policy is loaded in init_by_lua_block)"
workers_before=$(ps -o pid= --ppid "$NGX_MASTER" | sort | tr -s ' \n' ' ')
printf 'breaker api {\n    tripper = FailureStreak(\n}\n' > "$PREFIX/policy.fgp"
lines=$(wc -l < "$PREFIX/error.log")
kill -HUP "$NGX_MASTER"
for _ in $(seq 1 40); do tail -n +"$((lines + 1))" "$PREFIX/error.log" | grep -q 'policy.fgp' && break; sleep 0.05; done
sleep 0.2
refused=$(tail -n +"$((lines + 1))" "$PREFIX/error.log" | grep -m1 'policy.fgp')
check "the reload is refused, naming the policy's error (${refused:0:160})" [ -n "$refused" ]
out=$(burst /api/x 6)
workers_after=$(ps -o pid= --ppid "$NGX_MASTER" | sort | tr -s ' \n' ' ')
check "the old workers keep serving ($workers_before-> $workers_after)" \
  bash -c '[ "$1" = "$2" ] && [ -z "$(grep -v "^200 " <<<"$3")" ]' _ "$workers_before" "$workers_after" "$out"
held_now=$(held "$NGX_MASTER")
check "after $((2 + RELOADS)) reloads and a refused one the master holds what it held at start ($held_at_start -> $held_now)" \
  [ "$held_now" = "$held_at_start" ]
check "no reload took the instance's own zone for another instance's (no 'did not start' notice)" \
  bash -c '! grep -q "is in use by processes this one did not start" "$1"' _ "$PREFIX/error.log"
fg_nginx_stop
[ "$failed" = 0 ]
