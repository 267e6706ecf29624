// The globals of a fresh sandbox state: the reduced standard libraries, the
// bounded replacements, the `json` table and the callbacks.
#pragma once

#include <lua.hpp>

namespace caflens::sandbox::detail {

/// Registry key under which the last callback error message is kept, so the
/// host can tell a callback's error from the script's own.
const void* callback_error_key() noexcept;

/// The Lua function behind every callback (defined in sandbox.cpp); upvalue 1
/// is the index into `exec_context::callbacks`.
int call_callback(lua_State* L);

/// Compiles what every state shares (the Lua prelude) once per process.
/// Called by the sandbox's constructor; later calls are cheap.
void prepare_environment();

/// A lua_CFunction that builds the environment of a fresh state: run it with
/// `lua_pcall` in host mode before loading the script. Callbacks come from
/// the state's `exec_context`. Fails with a message starting "callback name"
/// when a callback would replace a library global.
int setup_environment(lua_State* L);

} // namespace caflens::sandbox::detail
