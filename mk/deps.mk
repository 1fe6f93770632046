# mk/deps.mk -- the Debian packages fluxgate-c needs to build and test.
#
#   make deps        (root) apt-get update + install them; never removes a package
#   make check-deps  says what is missing; as root it installs it (make test runs
#                    this first, so that `make demo` / `make test` set up a fresh
#                    Debian 12), otherwise it prints the command and fails.
.PHONY: deps check-deps

# LuaJIT: OpenResty's luajit2 serves our tests and nginx's Lua module alike
# (libnginx-mod-http-lua needs libluajit2-5.1-2), while Debian's luajit
# conflicts with that module. So luajit2, unless Debian's LuaJIT library is
# already installed: then that one stays. No install step ever removes a
# package (--no-remove): apt fails instead of taking nginx's Lua module away.
DEB_LUAJIT = $(shell dpkg-query -W -f='$${Status}' libluajit-5.1-2 2>/dev/null | grep -q 'ok installed' \
               && echo luajit libluajit-5.1-dev || echo luajit2 libluajit2-5.1-dev)
# nginx's Lua module (for make test-nginx) needs OpenResty's LuaJIT, so it
# comes only with luajit2: beside Debian's LuaJIT it could not be installed
# without removing that, and test-nginx says it was skipped and why.
NGINX_MODULES ?= /usr/lib/nginx/modules
DEB_NGINX = $(if $(filter luajit2,$(DEB_LUAJIT)),nginx libnginx-mod-http-lua lua-resty-core)
DEB_PACKAGES = build-essential flex bison pkg-config libcmocka-dev lua5.4 liblua5.4-dev \
               $(DEB_LUAJIT) lua-busted luarocks libxml2-utils valgrind clang libclang-rt-14-dev time \
               curl wrk $(DEB_NGINX)

# Debian's nginx package starts a system nginx on port 80 when it is
# installed. Only the tests start nginx, on their own ports: while apt runs, a
# policy-rc.d (only when the machine has none) refuses nginx alone, and a
# system nginx that this run installed is not enabled at boot either.
deps:
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "make deps needs root: sudo apt-get install -y --no-remove $(DEB_PACKAGES)"; exit 1; fi
	apt-get update
	@set -e; fresh=; dpkg-query -W -f='$${Status}' nginx 2>/dev/null | grep -q 'ok installed' || fresh=1; \
	guard=; if [ ! -e /usr/sbin/policy-rc.d ]; then guard=/usr/sbin/policy-rc.d; \
	  printf '%s\n' '#!/bin/sh' '# written by fluxgate-c make deps for the length of one apt-get run' \
	    'case "$$1" in nginx|nginx.service) exit 101;; esac' 'exit 0' > $$guard; chmod 755 $$guard; \
	  trap 'rm -f $$guard' EXIT; fi; \
	echo "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-remove --no-install-recommends $(DEB_PACKAGES)"; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-remove --no-install-recommends $(DEB_PACKAGES); \
	if [ -n "$$fresh" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then \
	  systemctl disable --now nginx >/dev/null 2>&1 || true; fi

# Silent when nothing is missing. As root it says in one line what it is
# about to install, then installs it; otherwise it says exactly what to run.
check-deps:
	@missing=""; \
	for tool in flex bison lua5.4 luajit pkg-config busted luarocks xmllint; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	[ -f /usr/include/cmocka.h ] || missing="$$missing cmocka"; \
	[ -x /usr/bin/time ] || missing="$$missing time"; \
	[ -f /usr/include/lua5.4/lua.h ] || missing="$$missing liblua5.4-dev"; \
	[ -f /usr/include/luajit-2.1/lua.h ] || missing="$$missing libluajit-5.1-dev"; \
	for tool in curl wrk; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$(DEB_NGINX)" ]; then \
	  [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	  [ -f $(NGINX_MODULES)/ngx_http_lua_module.so ] || missing="$$missing libnginx-mod-http-lua"; \
	  [ -f /usr/share/lua/5.1/resty/core.lua ] || missing="$$missing lua-resty-core"; fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "check-deps: missing$$missing; running as root, so installing the Debian packages now (make deps: apt-get install --no-remove)"; \
	    $(MAKE) --no-print-directory deps; \
	  else echo "missing:$$missing"; echo "run: sudo apt-get install -y --no-remove $(DEB_PACKAGES)"; exit 1; fi; \
	fi
