#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <nlohmann/json_fwd.hpp>

#include "caf/error.hpp"

namespace caflens::sandbox {

/// The hard limits of one `sandbox::execute` call. Every limit fails the call
/// with its own `sandbox_errc` and a message that names the limit. A plain
/// value type.
struct limits {
  /// Lua VM instructions per call, counted by a count hook every
  /// `check_interval` instructions.
  uint64_t max_instructions = 10'000'000;

  /// Bytes the Lua state may hold at once (every Lua allocation is counted).
  size_t max_memory_bytes = 32 * 1024 * 1024;

  /// Wall time per call. A callback that declares a duration extends it by
  /// that much each time it is called. Checked in the instruction hook, on
  /// entry to every library function, inside the pattern matcher and in the
  /// allocator, so it holds for scripts that spend their time in C.
  std::chrono::milliseconds max_wall_time{1000};

  /// Nested function calls (Lua and C frames), checked with the instruction
  /// limit; a script may overshoot it by the calls it makes between two
  /// checks. Deep recursion fails with `stack_overflow`.
  uint32_t max_call_depth = 2000;

  /// Bytes of source code accepted.
  size_t max_code_bytes = 256 * 1024;

  /// Approximate bytes of a JSON value crossing the bridge: the script's
  /// result, callback arguments and (measured against the free memory)
  /// callback results.
  size_t max_result_bytes = 1024 * 1024;

  /// Nesting depth of JSON values crossing the bridge, both directions.
  size_t max_json_depth = 32;

  /// Bytes of `print` output kept; more is dropped and flagged.
  size_t max_output_bytes = 64 * 1024;

  /// Instructions between two checks of the instruction and wall-time limits
  /// (the granularity of the reported instruction count).
  uint32_t check_interval = 1000;
};

/// Checks that every limit is usable: non-zero, `max_memory_bytes` at least
/// 256 KiB (a bare sandbox needs about 60 KiB), `max_json_depth` at most 200.
/// Error: `sandbox_errc::invalid_argument` naming the bad field.
caf::error validate(const limits& x);

/// The limits as a JSON object (field name → value; times in ms).
nlohmann::json to_json(const limits& x);

} // namespace caflens::sandbox
