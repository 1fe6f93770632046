# mk/abi.mk -- what the shared objects export (HACKING.md, "The ABI").
#
#   make test-abi   libfluxgate.so exports exactly the functions include/fluxgate.h
#                   declares (FG_API); each fluxgate/core.so exactly luaopen_* and the
#                   functions LuaJIT's FFI path declares with ffi.cdef. A difference
#                   fails with both sides listed (tools/check_abi.sh).
.PHONY: test-abi

# Under SANITIZE=1 the luajit that reads the module's FFI texts needs the ASan
# runtime preloaded (as in test-lua); nm and gcc do not.
test-abi: $(LIB_SO) $(LUA_FOR_TESTS)
	@ABI_LUAJIT_PRELOAD="$(if $(filter 1,$(SANITIZE)),$(shell $(CC) -print-file-name=libasan.so))" \
	  bash tools/check_abi.sh include/fluxgate.h $(LIB_SO) $(word 2,$(LUA_TESTED_TREES)) \
	  $(addsuffix /fluxgate/core.so,$(LUA_TESTED_TREES))
