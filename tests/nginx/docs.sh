#!/usr/bin/env bash
# docs.sh -- the nginx snippets of the documentation, run as printed (make
# test-nginx): every ```nginx block of README.md's "OpenResty" section and of
# doc/lua.md's "OpenResty" section is put in a real nginx with only the edits
# a deploying user makes -- the paths (/etc/nginx/gateway.fgp, /usr/local's
# Lua trees, the shared zone's directory: this test's prefix instead of the
# machine-wide /dev/shm), a listen port, an upstream users_backend -- and must
# start and guard /users/: 3 requests reach the backend and are counted as 3
# successes. nginx -t would not do: it does not run init_by_lua*. Then, on
# README's snippet: two instances given the same (default) zone, the second
# told so and the first not, not even on a reload; and a new install of
# fluxgate.core under a running nginx, whose reload is refused (the master
# would keep the old C module under the new Lua modules) until a restart.
#
#   bash tests/nginx/docs.sh PREFIX LUADIR     e.g. build/nginx-docs build/luajit
set -u
cd "$(dirname "$0")/../.."
PREFIX=$(mkdir -p "$1" && cd "$1" && pwd)
LUADIR=$(cd "$2" && pwd)
. tests/nginx/lib.sh

passed=0 failed=0
second=
stop_second() { # the second instance of the last scenario, by its pid
  [ -n "$second" ] || return 0
  kill -QUIT "$second" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$second" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$second" 2>/dev/null; wait "$second" 2>/dev/null
  second=
}
trap 'stop_second; fg_nginx_stop; echo "$passed passed, $failed failed"' EXIT
trap 'failed=$((failed + 1)); echo "not ok - interrupted"; exit 2' INT TERM

# The ```nginx blocks of FILE between the heading HEADING and the next
# heading of its level, each ending with a line "@@END@@".
snippets() { # FILE HEADING
  awk -v h="$2" '
    $0 == h { on = 1; level = index(h, " "); next }
    on && /^#+ / && index($0, " ") <= level { on = 0 }
    on && /^```nginx$/ { inside = 1; next }
    inside && /^```$/ { inside = 0; print "@@END@@"; next }
    inside { print }' "$1"
}

# FG_NGINX_CONFIG for lib.sh: the snippet in $SNIPPET, edited as a user
# would, wrapped in what it leaves out (load_module, events, http{} if it has
# none), plus the backend and a control server on $NGX_PORT.
docs_config() { # PREFIX LUADIR
  local prefix=$1 luadir=$2 user= extra wrap=1
  [ "$(id -u)" = 0 ] && user='user root root;'
  grep -q '^http {' "$SNIPPET" && wrap=
  extra="access_log off;
    client_body_temp_path $prefix/tmp/body; proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi; uwsgi_temp_path $prefix/tmp/uwsgi; scgi_temp_path $prefix/tmp/scgi;
    upstream users_backend { server 127.0.0.1:$NGX_UPORT; }
    server { listen 127.0.0.1:$NGX_UPORT; location / { return 200 \"backend\"; } }
    server { listen 127.0.0.1:$NGX_PORT;
        location = /_test/ping { return 200 \"pong\\n\"; }
        location = /_test/metrics { content_by_lua_block { require(\"fluxgate.nginx\").metrics() } }
    }"
  grep -q 'lua_package_path' "$SNIPPET" ||
    extra="$extra
    lua_package_path \"/usr/local/share/lua/5.1/?.lua;;\"; lua_package_cpath \"/usr/local/lib/lua/5.1/?.so;;\";"
  {
    printf '%s\n' "load_module $NGX_MODULES/ndk_http_module.so;" "load_module $NGX_MODULES/ngx_http_lua_module.so;" \
      'daemon off;' "$user" 'worker_processes 2;' "pid $prefix/nginx.pid;" "error_log $prefix/error.log notice;" \
      'events { worker_connections 64; }'
    if [ -n "$wrap" ]; then printf 'http {\n    %s\n' "$extra"; cat "$SNIPPET"; echo '}'
    else awk -v extra="$extra" '{ print } /^http \{$/ { print "    " extra }' "$SNIPPET"; fi
  } | P="$prefix" L="$luadir" BP="$NGX_BPORT" perl -pe '
      s{/etc/nginx/}{$ENV{P}/}g;
      s{/usr/local/share/lua/5\.1/}{$ENV{L}/}g; s{/usr/local/lib/lua/5\.1/}{$ENV{L}/}g;
      s{^(\s*)server \{$}{$1server \{ listen 127.0.0.1:$ENV{BP};};
      s!(shared_(?:breaker|family)\("[^"]*")\)!$1, { dir = "$ENV{P}" })!g;
      s!(shared_(?:breaker|family)\("[^"]*"), \{!$1, { dir = "$ENV{P}",!g;' > "$prefix/nginx.conf"
  cp tests/nginx/docs.fgp "$prefix/gateway.fgp"
}
FG_NGINX_CONFIG=docs_config

n=0
run_snippet() { # WHERE: $SNIPPET holds it
  n=$((n + 1))
  rm -f "$PREFIX"/fluxgate-*.zone
  if ! fg_nginx_start "$PREFIX" "$LUADIR" > "$PREFIX/start.txt" 2>&1; then
    check "$1 starts nginx as printed ($(grep -m1 -E 'emerg|error' "$PREFIX/error.log" | cut -c1-200))" false
    cp "$PREFIX/nginx.conf" "$PREFIX/failed-$n.conf"
    return
  fi
  local out i ok
  out=$(for i in 1 2 3; do curl -s -m 5 -H 'Connection: close' -w ' %{http_code}\n' "http://127.0.0.1:$NGX_BPORT/users/$i"; done)
  ok=$(curl -s -m 5 "http://127.0.0.1:$NGX_PORT/_test/metrics" |
    awk '/^circuit_breaker_calls_total\{circuit_name="[^"]*",outcome="success"\}/ { s += $2 } END { print s + 0 }')
  fg_nginx_stop
  check "$1: /users/ reaches the backend (3 x 200) and is guarded (3 successes counted: $ok)" \
    bash -c '[ "$(grep -c "^backend 200$" <<<"$1")" = 3 ] && [ "$2" = 3 ]' _ "$out" "$ok"
  local errors
  errors=$(grep -E '\[(error|crit|alert|emerg)\]|lua entry thread aborted' "$PREFIX/error.log" | head -2 | cut -c1-200)
  check "$1: nothing in error.log${errors:+: $errors}" [ -z "$errors" ]
}

for doc in "README.md:### OpenResty" "doc/lua.md:## OpenResty"; do
  file=${doc%%:*} heading=${doc#*:}
  snippets "$file" "$heading" > "$PREFIX/snippets.txt"
  count=$(grep -c '^@@END@@$' "$PREFIX/snippets.txt")
  check "$file \"${heading#* }\" has nginx snippets ($count)" [ "$count" -ge 1 ]
  for ((k = 1; k <= count; k++)); do
    SNIPPET=$PREFIX/snippet.conf
    awk -v k="$k" '/^@@END@@$/ { i++; next } i == k - 1' "$PREFIX/snippets.txt" > "$SNIPPET"
    run_snippet "$file \"${heading#* }\" nginx snippet $k"
    [ "$file" = README.md ] && [ "$k" = 1 ] && cp "$SNIPPET" "$PREFIX/readme.conf"
  done
done

echo "# two instances given the same zone (README's snippet twice: the default zone)"
SNIPPET=$PREFIX/readme.conf
FOREIGN="is in use by processes this one did not start"
if fg_nginx_start "$PREFIX" "$LUADIR" > "$PREFIX/start.txt" 2>&1; then
  kill -HUP "$NGX_MASTER"
  for _ in $(seq 1 60); do grep -q 'start worker process' <(sed -n '/reconfiguring/,$p' "$PREFIX/error.log") && break; sleep 0.05; done
  check "the first instance, started and reloaded, hears no notice about other processes" \
    bash -c 'grep -q reconfiguring "$2" && ! grep -q "$1" "$2"' _ "$FOREIGN" "$PREFIX/error.log"
  a_ports="$NGX_PORT $NGX_UPORT $NGX_BPORT"
  fg_pick_ports
  mkdir -p "$PREFIX/second/tmp"
  # the same config and zone (dir $PREFIX), its own ports, pid file and error.log
  set -- $a_ports
  sed -e "s|127.0.0.1:$1;|127.0.0.1:$NGX_PORT;|; s|127.0.0.1:$2;|127.0.0.1:$NGX_UPORT;|g; s|127.0.0.1:$3;|127.0.0.1:$NGX_BPORT;|" \
      -e "s|^pid .*|pid $PREFIX/second/nginx.pid;|; s|^error_log .*|error_log $PREFIX/second/error.log notice;|" \
      -e "s|_temp_path $PREFIX/tmp/|_temp_path $PREFIX/second/tmp/|g" "$PREFIX/nginx.conf" > "$PREFIX/second/nginx.conf"
  : > "$PREFIX/second/error.log"
  # (as lib.sh starts nginx: under ASan with its runtime preloaded)
  LD_PRELOAD=${FG_NGINX_PRELOAD:-} "$NGX_BIN" -p "$PREFIX/second/" -c "$PREFIX/second/nginx.conf" \
    -e "$PREFIX/second/error.log" > "$PREFIX/second/stderr.txt" 2>&1 &
  second=$!
  up=
  for _ in $(seq 1 100); do curl -s -m 1 -o /dev/null "http://127.0.0.1:$NGX_PORT/_test/ping" && up=1 && break; sleep 0.05; done
  check "the second instance starts ($(head -c 160 "$PREFIX/second/stderr.txt"))" [ -n "$up" ]
  notice=$(grep -m1 "$FOREIGN" "$PREFIX/second/error.log")
  check "a second instance given the same zone says so in its error.log at notice level (${notice:0:160})" \
    grep -q '\[notice\].*give each instance its own zone or dir' <<<"$notice"
  stop_second
  fg_nginx_stop
else
  check "README's snippet starts again" false
fi

echo "# a new install under a running nginx, then nginx -s reload (README's snippet on a copy of the tree)"
rm -rf "$PREFIX/tree" && cp -r "$LUADIR" "$PREFIX/tree"
if fg_nginx_start "$PREFIX" "$PREFIX/tree" > "$PREFIX/start.txt" 2>&1; then
  workers_before=$(ps -o pid= --ppid "$NGX_MASTER" | sort | tr -s ' \n' ' ')
  # what an install does: a new file at the same path (the running master keeps the old one)
  cp "$PREFIX/tree/fluxgate/core.so" "$PREFIX/tree/core.so.new" && mv "$PREFIX/tree/core.so.new" "$PREFIX/tree/fluxgate/core.so"
  lines=$(wc -l < "$PREFIX/error.log")
  kill -HUP "$NGX_MASTER"
  for _ in $(seq 1 60); do tail -n +"$((lines + 1))" "$PREFIX/error.log" | grep -q 'init_by_lua error' && break; sleep 0.05; done
  refused=$(tail -n +"$((lines + 1))" "$PREFIX/error.log" | grep -m1 'has been replaced since')
  check "the reload is refused, saying the loaded fluxgate.core was replaced and to restart (${refused:0:200})" \
    grep -q 'restart nginx' <<<"$refused"
  out=$(curl -s -m 5 -H 'Connection: close' -w ' %{http_code}' "http://127.0.0.1:$NGX_BPORT/users/x")
  workers_after=$(ps -o pid= --ppid "$NGX_MASTER" | sort | tr -s ' \n' ' ')
  check "the old workers keep serving ($workers_before-> $workers_after: $out)" \
    bash -c '[ "$1" = "$2" ] && [ "$3" = "backend 200" ]' _ "$workers_before" "$workers_after" "$out"
  fg_nginx_stop
  fg_nginx_start "$PREFIX" "$PREFIX/tree" > "$PREFIX/start.txt" 2>&1
  out=$(curl -s -m 5 -H 'Connection: close' -w ' %{http_code}' "http://127.0.0.1:$NGX_BPORT/users/x")
  check "a restart runs the installed one ($out)" [ "$out" = "backend 200" ]
  fg_nginx_stop
else
  check "README's snippet starts on a copy of the tree" false
fi
[ "$failed" = 0 ]
