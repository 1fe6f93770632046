# lib.sh -- start and stop the tests' own nginx (sourced by tests/nginx/run.sh
# and bench/nginx_bench.sh). One instance under $NGX_PREFIX: its config
# generated from tests/nginx/nginx.conf.in, ports chosen free at run time,
# 127.0.0.1 only. fg_nginx_stop stops what fg_nginx_start started (by pid,
# never by name); callers run it from an EXIT trap.
#
#   fg_nginx_start PREFIX LUADIR   sets NGX_PORT (guarded server), NGX_UPORT
#                                  (upstream), NGX_DEADPORT (nobody listens),
#                                  NGX_BPORT (benchmark server), NGX_MASTER,
#                                  NGX_WORKERS (pids)
#   fg_nginx_stop
# FG_NGINX_PRELOAD, when set, is preloaded into nginx (the ASan runtime).
# FG_NGINX_CONFIG names the function that writes PREFIX/nginx.conf (default
# fg_nginx_config, from nginx.conf.in); whatever it writes must answer
# http://127.0.0.1:$NGX_PORT/_test/ping once nginx is up.

FG_NGINX_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NGX_MODULES=${NGX_MODULES:-/usr/lib/nginx/modules}
NGX_BIN=${NGX_BIN:-/usr/sbin/nginx}
NGX_MASTER=
NGX_WORKERS=

# Four distinct ports that nothing uses now (a race with another program is
# caught by fg_nginx_start, which then tries other ports).
fg_pick_ports() {
  # Below the kernel's ephemeral range: a connection to the dead port from
  # a source port equal to it connects to itself (TCP simultaneous open)
  # instead of being refused, and a listening port there can be taken by
  # an outgoing connection's source port first.
  local used p q picked=() low span
  low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
  [[ "$low" =~ ^[0-9]+$ ]] && [ "$low" -gt 11000 ] || low=32768
  span=$(( low - 10000 ))
  used=$(ss -Htan 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u)
  while [ ${#picked[@]} -lt 4 ]; do
    p=$(( 10000 + (RANDOM * 32768 + RANDOM) % span ))
    if grep -qx "$p" <<<"$used"; then continue; fi
    for q in "${picked[@]}"; do [ "$q" = "$p" ] && continue 2; done
    picked+=("$p")
  done
  NGX_PORT=${picked[0]} NGX_UPORT=${picked[1]} NGX_DEADPORT=${picked[2]} NGX_BPORT=${picked[3]}
}

fg_nginx_config() { # PREFIX LUADIR
  # As root, the workers stay root: the build tree may not be readable by
  # nginx's default worker user (nobody).
  local user=
  [ "$(id -u)" = 0 ] && user='user root root;'
  sed -e "s|@USER@|$user|" -e "s|@PREFIX@|$1|g" -e "s|@LUADIR@|$2|g" -e "s|@HARNESS@|$FG_NGINX_DIR|g" \
      -e "s|@MODULES@|$NGX_MODULES|g" -e "s|@PORT@|$NGX_PORT|g" -e "s|@UPORT@|$NGX_UPORT|g" \
      -e "s|@DEADPORT@|$NGX_DEADPORT|g" -e "s|@BPORT@|$NGX_BPORT|g" \
      "$FG_NGINX_DIR/nginx.conf.in" > "$1/nginx.conf"
  cp "$FG_NGINX_DIR/policy.fgp" "$1/policy.fgp"   # a test may break this copy
}

fg_nginx_start() { # PREFIX LUADIR
  local prefix=$1 luadir=$2 attempt i
  mkdir -p "$prefix/tmp"
  for attempt in 1 2 3; do
    fg_pick_ports
    "${FG_NGINX_CONFIG:-fg_nginx_config}" "$prefix" "$luadir"
    rm -f "$prefix/nginx.pid"
    : > "$prefix/error.log"
    if [ -n "${FG_NGINX_PRELOAD:-}" ]; then
      LD_PRELOAD=$FG_NGINX_PRELOAD "$NGX_BIN" -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log" &
    else
      "$NGX_BIN" -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log" &
    fi
    NGX_MASTER=$!
    for i in $(seq 1 100); do
      if ! kill -0 "$NGX_MASTER" 2>/dev/null; then break; fi
      if curl -s -m 1 -o /dev/null "http://127.0.0.1:$NGX_PORT/_test/ping"; then
        NGX_WORKERS=$(ps -o pid= --ppid "$NGX_MASTER" | tr -s ' \n' ' ')
        [ "$(cat "$prefix/nginx.pid" 2>/dev/null)" = "$NGX_MASTER" ] || echo "warning: nginx.pid does not name the master $NGX_MASTER"
        return 0
      fi
      sleep 0.05
    done
    fg_nginx_stop
    if ! grep -q 'Address already in use' "$prefix/error.log"; then break; fi
  done
  echo "nginx did not start; $prefix/error.log:" >&2
  tail -20 "$prefix/error.log" >&2
  return 1
}

fg_nginx_stop() {
  [ -n "$NGX_MASTER" ] || return 0
  local i pid
  if kill -0 "$NGX_MASTER" 2>/dev/null; then
    NGX_WORKERS="$NGX_WORKERS $(ps -o pid= --ppid "$NGX_MASTER" | tr -s ' \n' ' ')"
    kill -QUIT "$NGX_MASTER" 2>/dev/null
    for i in $(seq 1 100); do kill -0 "$NGX_MASTER" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$NGX_MASTER" 2>/dev/null
  fi
  wait "$NGX_MASTER" 2>/dev/null
  for pid in $NGX_WORKERS; do
    # a worker outliving its master: still an nginx of ours?
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = nginx ]; then kill -KILL "$pid" 2>/dev/null; fi
  done
  NGX_MASTER= NGX_WORKERS=
}

# One assertion of a scenario script: runs COMMAND, counts it in the
# caller's passed/failed and prints "ok - ..." or "not ok - ...".
check() { # DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok - $what"
  else failed=$((failed + 1)); echo "not ok - $what"; fi
}
