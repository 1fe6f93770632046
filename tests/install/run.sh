#!/usr/bin/env bash
# tests/install/run.sh -- what an embedder's build sees after `make install`
# and `luarocks make`: run by `make test-install` (part of `make test`).
#
#   1. `make install PREFIX=/opt/fg DESTDIR="stage area"` puts every file where
#      README.md ("Set-up") and doc/lua.md ("Install") say, under DESTDIR (a
#      path with a space), and fluxgate.pc names PREFIX, not DESTDIR.
#   2. `make install PREFIX=<dir>`: examples/basic.c builds with nothing but
#      `pkg-config --cflags --libs fluxgate` (shared) and `--static` (static)
#      and both programs print the same; so do doc/c-api.md's build lines as
#      printed (those it calls static run without libfluxgate.so); the installed tool checks a policy
#      and prints its help; lua5.4 and luajit run the shared conformance suite
#      against the installed modules alone.
#   2b. `make install PREFIX="<dir with a space>"`: fluxgate.pc escapes the
#      space, and basic.c builds from its flags as a Makefile or `eval` reads them;
#      `make uninstall` then leaves no file of ours there.
#   3. `luarocks make` for Lua 5.4 (into a tree whose path has a space), and
#      luarocks-5.1 for LuaJIT, build rocks that pass the conformance suite too;
#      Lua 5.1's own headers are refused with a message before anything compiles.
#   4. Without the conformance suite (a clone without ../shared) its checks stop
#      first with one line naming SHARED=.
#
# usage: tests/install/run.sh BUILD_DIR CONFORMANCE_DIR
set -euo pipefail

build=$1
conformance=$2
work="$build/install-test"
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
fails=0

fail() { echo "FAIL $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

# ---- 1. DESTDIR staging ---------------------------------------------------------
stage="$work/stage area"
make --no-print-directory -s install PREFIX=/opt/fg DESTDIR="$stage" >"$work/stage.log" 2>&1 ||
    { cat "$work/stage.log"; fail "make install PREFIX=/opt/fg DESTDIR=..."; }
expected=(
    bin/fluxgate
    include/fluxgate.h
    lib/libfluxgate.a
    lib/libfluxgate.so
    lib/libfluxgate.so.0
    lib/pkgconfig/fluxgate.pc
    share/man/man1/fluxgate.1
    share/lua/5.4/fluxgate.lua
    share/lua/5.4/fluxgate/outcome.lua
    share/lua/5.4/fluxgate/prometheus.lua
    share/lua/5.4/fluxgate/ffi_path.lua
    share/lua/5.4/fluxgate/classic_path.lua
    share/lua/5.4/fluxgate/delivery.lua
    share/lua/5.4/fluxgate/shared.lua
    share/lua/5.4/fluxgate/shared_family.lua
    share/lua/5.4/fluxgate/family.lua
    share/lua/5.4/fluxgate/family_ffi.lua
    share/lua/5.4/fluxgate/nginx.lua
    lib/lua/5.4/fluxgate/core.so
    share/lua/5.1/fluxgate.lua
    share/lua/5.1/fluxgate/outcome.lua
    share/lua/5.1/fluxgate/prometheus.lua
    share/lua/5.1/fluxgate/ffi_path.lua
    share/lua/5.1/fluxgate/classic_path.lua
    share/lua/5.1/fluxgate/delivery.lua
    share/lua/5.1/fluxgate/shared.lua
    share/lua/5.1/fluxgate/shared_family.lua
    share/lua/5.1/fluxgate/family.lua
    share/lua/5.1/fluxgate/family_ffi.lua
    share/lua/5.1/fluxgate/nginx.lua
    share/lua/5.1/fluxgate/cdef.lua
    lib/lua/5.1/fluxgate/core.so
)
missing=0
for f in "${expected[@]}"; do
    [ -e "$stage/opt/fg/$f" ] || { fail "staged install lacks /opt/fg/$f"; missing=1; }
done
[ $missing -eq 0 ] && ok "staged install: all ${#expected[@]} files under DESTDIR/opt/fg"
pc="$stage/opt/fg/lib/pkgconfig/fluxgate.pc"
if [ -f "$pc" ] && grep -qx 'prefix=/opt/fg' "$pc" && ! grep -qF "$work" "$pc"; then
    ok "fluxgate.pc names PREFIX, not DESTDIR"
else
    fail "fluxgate.pc should say prefix=/opt/fg and never the DESTDIR"
fi
if [ "$(readlink "$stage/opt/fg/lib/libfluxgate.so")" = libfluxgate.so.0 ]; then
    ok "libfluxgate.so -> libfluxgate.so.0 (the SONAME)"
else
    fail "libfluxgate.so should link to libfluxgate.so.0"
fi

# ---- 2. a real prefix: pkg-config, the tool, the Lua modules --------------------------
prefix="$work/prefix"
make --no-print-directory -s install PREFIX="$prefix" >"$work/prefix.log" 2>&1 ||
    { cat "$work/prefix.log"; fail "make install PREFIX=$prefix"; }
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
if version=$(pkg-config --modversion fluxgate); then ok "pkg-config finds fluxgate $version"; else fail "pkg-config --modversion fluxgate"; fi
# shellcheck disable=SC2046 # pkg-config prints flags to split
if cc -std=c11 -Wall -Wextra -Wpedantic -Werror examples/basic.c $(pkg-config --cflags --libs fluxgate) -o "$work/basic_shared" &&
   cc -std=c11 -Wall -Wextra -Wpedantic -Werror -static examples/basic.c $(pkg-config --cflags --libs --static fluxgate) -o "$work/basic_static"; then
    ok "examples/basic.c builds from pkg-config flags alone (shared and static)"
    if LD_LIBRARY_PATH="$prefix/lib" "$work/basic_shared" >"$work/shared.out" 2>&1 &&
       "$work/basic_static" >"$work/static.out" 2>&1 &&
       [ -s "$work/shared.out" ] && cmp -s "$work/shared.out" "$work/static.out"; then
        ok "both run and print the same ($(wc -l <"$work/shared.out") lines)"
    else
        fail "the installed example programs differ or fail"; cat "$work/shared.out" "$work/static.out"
    fi
    # ldd's whole output first: `ldd | grep -q` under pipefail fails when
    # grep stops reading early and ldd dies of SIGPIPE (a flaky failure)
    LD_LIBRARY_PATH="$prefix/lib" ldd "$work/basic_shared" > "$work/ldd.txt" 2>&1 || true
    if grep -q "$prefix/lib/libfluxgate.so.0" "$work/ldd.txt"; then
        ok "the shared build loads $prefix/lib/libfluxgate.so.0"
    else
        fail "the shared build does not load the installed libfluxgate.so.0"
    fi
else
    fail "examples/basic.c does not build from the installed header and pkg-config"
fi
# doc/c-api.md's build lines, as printed (app.c = examples/basic.c): each builds, and
# each one its comment calls static runs without libfluxgate.so, found or not.
doc_lines=$(sed -n '/^```sh$/,/^```$/p' doc/c-api.md | sed -n '1,/^```$/{/^cc /p;}') || true
n=0
while IFS= read -r line; do
    [ -n "$line" ] || continue
    n=$((n + 1))
    cmd=${line%%#*}; comment=${line#*#}
    cmd=${cmd//app.c/examples/basic.c}
    if ! (eval "$cmd -o \"\$work/doc_$n\"") >"$work/doc_$n.log" 2>&1; then
        fail "doc/c-api.md line does not build: $line"; cat "$work/doc_$n.log"; continue
    fi
    ldd "$work/doc_$n" >"$work/doc_$n.ldd" 2>&1 || true
    case $comment in
    *static*)
        if grep -q libfluxgate "$work/doc_$n.ldd"; then
            fail "doc/c-api.md's \"$comment\" build still loads libfluxgate.so: $line"
        elif "$work/doc_$n" >"$work/doc_$n.out" 2>&1 && cmp -s "$work/shared.out" "$work/doc_$n.out"; then
            ok "doc/c-api.md:$comment: builds, runs without libfluxgate.so"
        else
            fail "doc/c-api.md:$comment: does not run as basic does"
        fi ;;
    *)
        if LD_LIBRARY_PATH="$prefix/lib" "$work/doc_$n" >"$work/doc_$n.out" 2>&1 && cmp -s "$work/shared.out" "$work/doc_$n.out"; then
            ok "doc/c-api.md:$comment: builds and runs"
        else
            fail "doc/c-api.md:$comment: does not run as basic does"
        fi ;;
    esac
done <<<"$doc_lines"
[ $n -ge 2 ] || fail "doc/c-api.md's build lines (a \`\`\`sh block of cc lines) not found"

if "$prefix/bin/fluxgate" check policies/payment.fgp >"$work/check.out" 2>&1; then
    ok "installed fluxgate check policies/payment.fgp"
else
    fail "installed fluxgate check"; cat "$work/check.out"
fi
if "$prefix/bin/fluxgate" --help | grep -q simulate; then ok "installed fluxgate --help"; else fail "installed fluxgate --help"; fi

# ---- 2b. a prefix with a space ------------------------------------------------------
# pkg-config prints such a path with "\ " (as the .pc file must spell it); a
# Makefile's recipe or `eval` reads that as one word.
spaced="$work/my prefix"
if make --no-print-directory -s install PREFIX="$spaced" >"$work/spaced.log" 2>&1; then
    ok "make install PREFIX=\"$spaced\""
    if flags=$(PKG_CONFIG_PATH="$spaced/lib/pkgconfig" pkg-config --cflags --libs fluxgate) &&
       eval "cc -std=c11 -Wall -Wextra -Wpedantic -Werror examples/basic.c $flags -o \"\$work/basic_spaced\"" &&
       LD_LIBRARY_PATH="$spaced/lib" "$work/basic_spaced" >"$work/spaced.out" 2>&1 &&
       cmp -s "$work/shared.out" "$work/spaced.out"; then
        ok "examples/basic.c builds from that prefix's pkg-config flags and runs"
    else
        fail "examples/basic.c from a prefix with a space (flags: ${flags:-none})"
    fi
    # make uninstall takes back every file and link install made there
    make --no-print-directory -s uninstall PREFIX="$spaced" >"$work/uninstall.log" 2>&1 ||
        { cat "$work/uninstall.log"; fail "make uninstall PREFIX=\"$spaced\""; }
    left=$(find "$spaced" \( -type f -o -type l \) -printf '%P ')
    if [ -z "$left" ] && [ -z "$(find "$spaced" -type d -name fluxgate)" ]; then
        ok "make uninstall leaves no file, link or fluxgate/ directory"
    else
        fail "make uninstall left: $left$(find "$spaced" -type d -name fluxgate -printf ' %P/')"
    fi
else
    cat "$work/spaced.log"; fail "make install PREFIX=\"$spaced\""
fi

# The conformance suite against one installed tree; nothing from the build dir.
run_conformance() { # what interpreter sharedir libdir
    local what=$1 interp=$2 share=$3 lib=$4 log out
    log="$work/conformance-$what.log"
    if [ "$interp" = lua5.4 ]; then
        (cd "$conformance" && env LUA_PATH_5_4="$share/?.lua;$share/?/init.lua" LUA_CPATH_5_4="$lib/?.so" \
             lua5.4 run.lua) >"$log" 2>&1 || true
    else
        (cd "$conformance" && env LUA_PATH="$share/?.lua;$share/?/init.lua" LUA_CPATH="$lib/?.so" \
             luajit run.lua) >"$log" 2>&1 || true
    fi
    out=$(grep -E '^[0-9]+ passed, 0 failed$' "$log" || true)
    if [ -n "$out" ]; then ok "$what: conformance $out"; else fail "$what: conformance"; tail -20 "$log"; fi
}
# Debian's `lua` is PUC Lua 5.1, whose package.path reaches the installed 5.1 tree
# (built for LuaJIT): require says which Lua fluxgate needs.
if command -v lua5.1 >/dev/null 2>&1; then
    msg=$(cd / && LUA_PATH="$prefix/share/lua/5.1/?.lua" LUA_CPATH="$prefix/lib/lua/5.1/?.so" \
          lua5.1 -e 'require("fluxgate")' 2>&1) || true
    case $msg in
    *"fluxgate needs Lua 5.4 or LuaJIT 2.1"*) ok "lua5.1: require(\"fluxgate\") names the Luas it needs" ;;
    *) fail "lua5.1: require(\"fluxgate\") should name the Luas it needs, said: $msg" ;;
    esac
fi
run_conformance "make install, lua5.4" lua5.4 "$prefix/share/lua/5.4" "$prefix/lib/lua/5.4"
run_conformance "make install, luajit" luajit "$prefix/share/lua/5.1" "$prefix/lib/lua/5.1"

# ---- 3. luarocks make -------------------------------------------------------------
rockspec=$(ls ./*.rockspec)
if command -v luarocks-5.4 >/dev/null 2>&1 && command -v luarocks-5.1 >/dev/null 2>&1; then
    # luarocks itself, not Debian's luarocks-5.4 wrapper, which splits its
    # arguments at spaces ($@ unquoted)
    rocks54="$work/rock tree 5.4"
    if luarocks --lua-version=5.4 make --tree "$rocks54" "$rockspec" >"$work/rock54.log" 2>&1; then
        ok "luarocks --lua-version=5.4 make --tree \"$rocks54\" $rockspec"
        run_conformance "rock, lua5.4" lua5.4 "$rocks54/share/lua/5.4" "$rocks54/lib/lua/5.4"
    else
        fail "luarocks-5.4 make"; tail -20 "$work/rock54.log"
    fi
    if luarocks-5.1 make --tree "$work/rocks51" "$rockspec" LUA_INCDIR=/usr/include/luajit-2.1 >"$work/rock51.log" 2>&1; then
        ok "luarocks-5.1 make $rockspec (LuaJIT headers)"
        run_conformance "rock, luajit" luajit "$work/rocks51/share/lua/5.1" "$work/rocks51/lib/lua/5.1"
    else
        fail "luarocks-5.1 make"; tail -20 "$work/rock51.log"
    fi
    # What plain `luarocks make` gets where it targets PUC Lua 5.1: that
    # version's headers (a stand-in here), refused before any compile.
    mkdir -p "$work/lua51-headers"
    printf '#define LUA_VERSION_NUM\t501\n' >"$work/lua51-headers/lua.h"
    if make --no-print-directory lua-rock LUA_INCDIR="$work/lua51-headers" >"$work/rock-lua51.log" 2>&1; then
        fail "make lua-rock with Lua 5.1's headers should be refused"
    elif grep -q "is for Lua 5.4 or LuaJIT 2.1" "$work/rock-lua51.log" &&
         ! grep -q -- ' -c ' "$work/rock-lua51.log"; then
        ok "Lua 5.1's headers: refused with a message before compiling"
    else
        fail "Lua 5.1's headers: no clear refusal"; tail -5 "$work/rock-lua51.log"
    fi
else
    fail "luarocks-5.4 and luarocks-5.1 are needed (sudo apt-get install luarocks)"
fi

# ---- 4. a clone without ../shared ---------------------------------------------------
# The conformance suite is not in the repository: its checks stop at once and say
# where they looked and which variable names another place.
if make --no-print-directory -s test-lua SHARED="$work/no-shared" >"$work/no-shared.log" 2>&1; then
    fail "make test-lua without the conformance suite should fail"
elif grep -q "conformance suite is not at $work/no-shared/conformance.*SHARED=" "$work/no-shared.log" &&
     ! grep -q '^== ' "$work/no-shared.log"; then
    ok "without ../shared, test-lua stops first and names SHARED="
else
    fail "without ../shared, test-lua should stop with one line naming SHARED="; tail -5 "$work/no-shared.log"
fi

if [ $fails -ne 0 ]; then echo "install: $fails check(s) failed (logs in $work)"; exit 1; fi
echo "install: all checks passed"
