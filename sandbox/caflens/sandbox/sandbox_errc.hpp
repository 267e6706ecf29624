#pragma once

#include <cstdint>
#include <string>

#include "caf/make_message.hpp"

#include "caflens/telemetry/error.hpp"

namespace caflens::sandbox {

/// Errors of the sandbox component. The error's context holds one string, the
/// message written for the script's author (e.g. "lua: line 3: attempt to
/// call nil 'actors_topp'; known callbacks: ...").
enum class sandbox_errc : uint8_t {
  /// Invalid limits or callbacks given to the sandbox (not the script's fault).
  invalid_argument = 1,
  /// The script does not compile.
  syntax_error,
  /// The script raised an error (including calls to unknown functions).
  runtime_error,
  /// A callback failed and the script did not handle the error.
  callback_failed,
  /// The script recursed too deeply.
  stack_overflow,
  /// The script ran more Lua instructions than `limits::max_instructions`.
  instruction_limit_exceeded,
  /// The script allocated more than `limits::max_memory_bytes`.
  memory_limit_exceeded,
  /// The script ran longer than `limits::max_wall_time` plus the durations
  /// declared by the callbacks it called.
  wall_time_limit_exceeded,
  /// The script returned a value that has no JSON form (function, cycle, too
  /// deep, a table key that is no string or number).
  invalid_result,
  /// The returned value exceeds `limits::max_result_bytes`.
  result_too_large,
  /// A bug or resource failure in the host (e.g. no Lua state could be made).
  internal_error,
};

/// Returns the enumerator's name, e.g. "memory_limit_exceeded".
std::string to_string(sandbox_errc code);

CAFLENS_ERROR_CATEGORY(sandbox_errc, "sandbox");

} // namespace caflens::sandbox
