# mk/install.mk -- installing, and checking the install as an embedder's build sees it.
#
#   make install PREFIX=/usr/local DESTDIR=   the library, header, fluxgate.pc, the
#                                             tool, its man page, the Lua modules
#   make install-lib | install-cli | install-lua   one part of it
#   make uninstall PREFIX=... DESTDIR=        removes what install put there (same
#                                             variables), and the fluxgate/ module dirs
#   make install-lua-rock                     what `luarocks make` installs (the
#                                             rockspec's install_target)
#   make test-install   tests/install/run.sh: a DESTDIR-staged install has every file;
#                       a PREFIX install builds examples/basic.c from pkg-config alone
#                       (shared and static), runs the installed tool, and passes the
#                       conformance suite on lua5.4 and luajit; so do the rocks
#                       `luarocks make` builds
.PHONY: install install-lib install-cli install-lua install-lua-rock uninstall test-install

BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
FG_VERSION_STRING := $(shell sed -n 's/^\#define FG_VERSION "\(.*\)"/\1/p' include/fluxgate.h)

install: install-lib install-cli install-lua

# Every path in the recipes below is quoted: PREFIX, DESTDIR or a luarocks tree
# may hold spaces ("/opt/my tools"). In fluxgate.pc a space is written "\ ", as
# pkg-config expects, so that its flags reach the compiler as one word each.
fg_space := $(subst ,, )
fg_pc_path = $(subst $(fg_space),\$(fg_space),$(1))

# Rewritten on every run: it embeds PREFIX/LIBDIR, which may differ between runs.
$(BUILD)/fluxgate.pc: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' 'prefix=$(call fg_pc_path,$(PREFIX))' 'libdir=$(call fg_pc_path,$(LIBDIR))' \
	  'includedir=$(call fg_pc_path,$(INCLUDEDIR))' '' \
	  'Name: fluxgate' 'Description: circuit-breaker policy engine (policy language, bytecode VM, breakers)' \
	  'Version: $(FG_VERSION_STRING)' 'Libs: -L$${libdir} -lfluxgate' 'Libs.private: -lm -pthread' \
	  'Cflags: -I$${includedir}' > $@

install-lib: lib $(BUILD)/fluxgate.pc
	install -d '$(DESTDIR)$(INCLUDEDIR)' '$(DESTDIR)$(LIBDIR)' '$(DESTDIR)$(PKGCONFIGDIR)'
	install -m 644 include/fluxgate.h '$(DESTDIR)$(INCLUDEDIR)/fluxgate.h'
	install -m 644 $(LIB_A) '$(DESTDIR)$(LIBDIR)/libfluxgate.a'
	install -m 755 $(LIB_SO) '$(DESTDIR)$(LIBDIR)/libfluxgate.so.$(FG_VERSION_STRING)'
	ln -sf libfluxgate.so.$(FG_VERSION_STRING) '$(DESTDIR)$(LIBDIR)/libfluxgate.so.0'
	ln -sf libfluxgate.so.0 '$(DESTDIR)$(LIBDIR)/libfluxgate.so'
	install -m 644 $(BUILD)/fluxgate.pc '$(DESTDIR)$(PKGCONFIGDIR)/fluxgate.pc'

install-cli: $(CLI_BIN)
	install -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1'
	install -m 755 $(CLI_BIN) '$(DESTDIR)$(BINDIR)/fluxgate'
	install -m 644 doc/fluxgate.1 '$(DESTDIR)$(MANDIR)/man1/fluxgate.1'

install-lua: lua
	install -d '$(DESTDIR)$(PREFIX)/share/lua/5.4/fluxgate' '$(DESTDIR)$(PREFIX)/lib/lua/5.4/fluxgate'
	for f in $(LUA_PURE); do install -m 644 lua/$$f '$(DESTDIR)$(PREFIX)/share/lua/5.4/'$$f || exit 1; done
	install -m 755 $(LUA54_DIR)/fluxgate/core.so '$(DESTDIR)$(PREFIX)/lib/lua/5.4/fluxgate/core.so'
	install -d '$(DESTDIR)$(PREFIX)/share/lua/5.1/fluxgate' '$(DESTDIR)$(PREFIX)/lib/lua/5.1/fluxgate'
	for f in $(LUA_PURE); do install -m 644 lua/$$f '$(DESTDIR)$(PREFIX)/share/lua/5.1/'$$f || exit 1; done
	install -m 644 $(LUAJIT_DIR)/fluxgate/cdef.lua '$(DESTDIR)$(PREFIX)/share/lua/5.1/fluxgate/cdef.lua'
	install -m 755 $(LUAJIT_DIR)/fluxgate/core.so '$(DESTDIR)$(PREFIX)/lib/lua/5.1/fluxgate/core.so'

# Exactly the files the rules above install (a rock is removed by `luarocks
# remove fluxgate`); the directories they share with other software stay.
FG_LUA_DIRS = share/lua/5.4 lib/lua/5.4 share/lua/5.1 lib/lua/5.1
uninstall:
	rm -f '$(DESTDIR)$(INCLUDEDIR)/fluxgate.h' '$(DESTDIR)$(LIBDIR)/libfluxgate.a' \
	  '$(DESTDIR)$(LIBDIR)/libfluxgate.so.$(FG_VERSION_STRING)' '$(DESTDIR)$(LIBDIR)/libfluxgate.so.0' \
	  '$(DESTDIR)$(LIBDIR)/libfluxgate.so' '$(DESTDIR)$(PKGCONFIGDIR)/fluxgate.pc' \
	  '$(DESTDIR)$(BINDIR)/fluxgate' '$(DESTDIR)$(MANDIR)/man1/fluxgate.1'
	for d in $(FG_LUA_DIRS); do \
	  for f in $(LUA_PURE) fluxgate/cdef.lua fluxgate/core.so; do rm -f '$(DESTDIR)$(PREFIX)/'$$d/$$f; done; \
	  if [ -d '$(DESTDIR)$(PREFIX)/'$$d/fluxgate ]; then rmdir '$(DESTDIR)$(PREFIX)/'$$d/fluxgate || echo "kept $$d/fluxgate: not empty"; fi; \
	done

# LUA_LIBDIR and LUA_SHAREDIR come from luarocks.
install-lua-rock: lua-rock
	install -d '$(LUA_LIBDIR)/fluxgate' '$(LUA_SHAREDIR)/fluxgate'
	install -m 755 $(ROCK_DIR)/fluxgate/core.so '$(LUA_LIBDIR)/fluxgate/core.so'
	for f in $(LUA_PURE); do install -m 644 lua/$$f '$(LUA_SHAREDIR)/'$$f || exit 1; done
	install -m 644 $(ROCK_DIR)/fluxgate/cdef.lua '$(LUA_SHAREDIR)/fluxgate/cdef.lua'

test-install: check-conformance lib $(CLI_BIN) lua
	bash tests/install/run.sh $(BUILD) $(CONFORMANCE)
