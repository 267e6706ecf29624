// Bounded Lua 5.4 pattern matching: `string.find`, `string.match`,
// `string.gmatch` and `string.gsub` with the semantics of the reference
// implementation, written for the sandbox. The hook that enforces the
// instruction and wall-time limits cannot interrupt a C function, and a
// backtracking match such as `string.find(string.rep('a', 800), '.-.-.-b')`
// runs for minutes; this matcher counts its steps and checks the deadline
// every few thousand of them, so the wall-time limit holds inside a match.
#pragma once

#include <lua.hpp>

namespace caflens::sandbox::detail {

/// Sets `find`, `match`, `gmatch` and `gsub` in the table at the top of the
/// stack (the sandbox's `string` table).
void register_pattern_functions(lua_State* L);

} // namespace caflens::sandbox::detail
