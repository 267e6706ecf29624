// Conversion between Lua values and nlohmann::json.
//
// Lua → JSON: nil and `json.null` → null; booleans; integers stay integers,
// floats stay floats (NaN and ±inf → null); strings (invalid UTF-8 bytes →
// U+FFFD); a table whose keys are exactly 1..n → array; an empty table →
// `{}` unless marked as array (`json.array`, or made from a JSON array) →
// `[]`; any other table → object with string keys (integer and float keys in
// decimal). Metatables are ignored (raw access only, no metamethod runs).
// Functions, full userdata, threads, other key types, cycles, nesting deeper
// than `max_json_depth` and values larger than `max_result_bytes` fail.
//
// JSON → Lua is the inverse; null inside arrays and objects becomes
// `json.null` (so sequences keep their length), arrays get the array mark,
// unsigned integers above 2^63-1 become floats.
#pragma once

#include <string>

#include <lua.hpp>
#include <nlohmann/json.hpp>

#include "caflens/sandbox/limits.hpp"

namespace caflens::sandbox::detail {

/// The light userdata that stands for JSON null (`json.null`, `null`).
void* null_sentinel() noexcept;

/// Registry key of the metatable that marks a table as a JSON array.
const void* array_mark_key() noexcept;

/// Converts the value at `idx` into `out`. Never raises a Lua error or runs
/// Lua code; needs host mode (it may grow the Lua stack). On failure returns
/// false and writes a message such as "a function value at result.f cannot
/// become JSON" into `error`; `what` names the root (e.g. "result").
/// `bytes` counts the approximate JSON size across calls (start with 0); the
/// conversion fails with `too_large` set once it exceeds `max_result_bytes`.
bool to_json(lua_State* L, int idx, const limits& lim, const char* what,
             nlohmann::json& out, std::string& error, size_t& bytes,
             bool& too_large) noexcept;

/// Estimates the bytes a Lua copy of `x` takes, or returns false and writes
/// `error` when `x` nests deeper than `max_json_depth` or holds a type
/// without a Lua form (binary, discarded).
bool lua_size_estimate(const nlohmann::json& x, const limits& lim,
                       size_t& bytes, std::string& error) noexcept;

/// Pushes `x` (checked by `lua_size_estimate`) onto the stack. Needs host
/// mode; raises a Lua error only when the machine is out of memory.
void push_json(lua_State* L, const nlohmann::json& x);

/// Replaces invalid UTF-8 sequences in `x` with U+FFFD.
std::string sanitize_utf8(std::string_view x);

} // namespace caflens::sandbox::detail
