#!/usr/bin/env bash
# check_abi.sh -- the shared objects export exactly their contract (make test-abi):
#
#   libfluxgate.so   the functions include/fluxgate.h declares (FG_API), nothing else;
#   fluxgate/core.so the luaopen_* functions of lua/*.c and the functions that
#                    LuaJIT's FFI path declares with ffi.cdef (cdef.lua, core.FFI_CDEF,
#                    core.family_cdef()), nothing else: nginx loads it into every worker.
#
#   usage: tools/check_abi.sh HEADER LIBSO LUAJIT_TREE CORE.so...
#
# The declared sets come from the compiler, not from a pattern over the text:
# gcc -aux-info lists every function a translation unit declares, with the file
# it was declared in. The FFI texts are what the module really hands to ffi.cdef,
# read by luajit from LUAJIT_TREE (its LUA_PATH/LUA_CPATH root; an instrumented
# module needs ABI_LUAJIT_PRELOAD=<the ASan runtime>). Exported sets are
# `nm -D --defined-only`. A mismatch prints both directions of the difference.
set -u
header=$1 libso=$2 luajit_tree=$3
shift 3
cc=${ABI_CC:-gcc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

exported() { nm -D --defined-only "$1" | awk '{ print $NF }' | sort -u; }

# compare WHAT EXPECTED_FILE ACTUAL_FILE SO EXTRA_HINT MISSING_HINT: prints the
# verdict, and on a difference both sides of it with what usually causes each.
compare() {
  local what=$1 expected=$2 actual=$3 so=$4 extra_hint=$5 missing_hint=$6 extra missing
  extra=$(comm -13 "$expected" "$actual")
  missing=$(comm -23 "$expected" "$actual")
  if [ -z "$extra$missing" ]; then
    echo "abi: $so exports $what ($(wc -l < "$expected") functions), nothing else"
    return
  fi
  status=1
  echo "abi: FAIL $so does not export exactly $what"
  [ -n "$extra" ] && { echo "  exported but not part of it ($extra_hint):"; sed 's/^/    + /' <<< "$extra"; }
  [ -n "$missing" ] && { echo "  part of it but not exported ($missing_hint):"; sed 's/^/    - /' <<< "$missing"; }
  return 0
}

# ---- libfluxgate.so: the public header -------------------------------------------
printf '#include "%s"\n' "$(basename "$header")" > "$work/public.c"
{ "$cc" -fsyntax-only -I"$(dirname "$header")" -aux-info "$work/aux" "$work/public.c" &&
  grep -F "/* $header:" "$work/aux" | grep ' extern ' | sed 's/ *(.*//; s/.*[ *]//' | sort -u; } > "$work/public.txt" ||
  { echo "abi: FAIL cannot compile $header"; exit 1; }
[ -s "$work/public.txt" ] || { echo "abi: FAIL found no function declared in $header"; exit 1; }
exported "$libso" > "$work/libso.txt"
compare "the functions $header declares" "$work/public.txt" "$work/libso.txt" "$libso" \
  "an internal function leaks: is its object built with -fvisibility=hidden, or is it marked FG_API outside the header?" \
  "a declaration without FG_API, or a function never defined"

# ---- core.so: luaopen_* and what the FFI path declares --------------------------------
tree=$(cd "$luajit_tree" && pwd)
preload=()
[ -n "${ABI_LUAJIT_PRELOAD:-}" ] && preload=(LD_PRELOAD="$ABI_LUAJIT_PRELOAD" ASAN_OPTIONS=detect_leaks=0)
env "${preload[@]}" LUA_PATH="$tree/?.lua;;" LUA_CPATH="$tree/?.so;;" luajit -e '
  local core = require("fluxgate.core")
  io.write("#include <stddef.h>\n#include <stdint.h>\n")
  io.write(require("fluxgate.cdef"), "\n", core.FFI_CDEF, "\n", core.family_cdef(), "\n")
' > "$work/ffi.c" || { echo "abi: FAIL luajit could not read the FFI declarations from $luajit_tree"; exit 1; }
{ "$cc" -fsyntax-only -aux-info "$work/aux" "$work/ffi.c" &&
  grep -F "/* $work/ffi.c:" "$work/aux" | grep ' extern ' | sed 's/ *(.*//; s/.*[ *]//' | sort -u; } > "$work/ffi.txt" ||
  { echo "abi: FAIL the FFI declarations do not compile as C"; exit 1; }
grep -ho 'luaopen_[A-Za-z0-9_]*' lua/*.c | sort -u > "$work/luaopen.txt"
sort -u "$work/ffi.txt" "$work/luaopen.txt" > "$work/core.txt"
for so in "$@"; do
  exported "$so" > "$work/so.txt"
  compare "luaopen_* and the $(wc -l < "$work/ffi.txt") functions its FFI cdefs declare" \
    "$work/core.txt" "$work/so.txt" "$so" \
    "an internal function leaks, or a public one is declared outside the header's FG_FFI_BEGIN..FG_FFI_END region" \
    "FGL_EXPORT missing on a luaopen_ function, or an FFI function the module does not define"
done

# ---- core.so calls its own engine ------------------------------------------------------
# A process may hold another fluxgate in its global scope (a libfluxgate.so of another
# version, linked into nginx or the program, or preloaded): the module's C calls must
# still reach the engine inside it, as its FFI path's calls (ffi.load of core.so) do.
printf 'const char *fg_version(void) { return "interposed"; }\n' > "$work/other.c"
"$cc" -shared -fPIC -o "$work/libother.so" "$work/other.c" || { echo "abi: FAIL cannot build the stand-in library"; exit 1; }
want=$(sed -n 's/^#define FG_VERSION "\(.*\)"/\1/p' "$header")
for so in "$@"; do
  dir=$(cd "$(dirname "$so")/.." && pwd)
  case $dir in
    *luajit*) interp=luajit; cpath=(LUA_CPATH="$dir/?.so;;") ;;
    *) interp=lua5.4; cpath=(LUA_CPATH_5_4="$dir/?.so;;") ;;
  esac
  got=$(env LD_PRELOAD="${ABI_LUAJIT_PRELOAD:+$ABI_LUAJIT_PRELOAD }$work/libother.so" ASAN_OPTIONS=detect_leaks=0 \
        "${cpath[@]}" "$interp" -e 'io.write(require("fluxgate.core").version)' 2>&1) || true
  if [ "$got" = "$want" ]; then
    echo "abi: ok   $so calls its own engine with another fg_version preloaded"
  else
    echo "abi: FAIL $so: with another library defining fg_version preloaded, its version reads \"$got\" (want $want): link it -Bsymbolic"
    status=1
  fi
done
exit $status
