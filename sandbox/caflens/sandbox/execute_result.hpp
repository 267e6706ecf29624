#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace caflens::sandbox {

/// What a successful `sandbox::execute` returns. A plain value type.
struct execute_result {
  /// The script's return value as JSON: null for no value, the value for one,
  /// an array for several. Tables with the keys 1..n become arrays, other
  /// tables objects, an empty table `{}` unless it is marked with
  /// `json.array` (or came from a JSON array); `nil` and `json.null` become
  /// null, NaN and infinities too; integers stay integers.
  nlohmann::json value;

  /// What the script printed with `print`, at most `max_output_bytes`.
  std::string output;

  /// True when `print` output was dropped.
  bool output_truncated = false;

  /// Lua instructions executed, counted whenever the hook fires: a multiple
  /// of `limits::check_interval` (0 for a script shorter than one interval).
  uint64_t instructions = 0;

  /// The most bytes the Lua state held at once.
  size_t peak_memory_bytes = 0;

  /// Wall time of the whole call, set-up and teardown included.
  std::chrono::nanoseconds duration{0};

  /// Number of callback calls the script made.
  size_t callback_calls = 0;
};

} // namespace caflens::sandbox
