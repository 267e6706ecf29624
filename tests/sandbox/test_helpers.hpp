// Shared helpers of the sandbox suites.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "caflens/sandbox/all.hpp"
#include "caflens/telemetry/error.hpp"

namespace caflens::sandbox::test {

/// Limits small enough to make hostile scripts fail fast.
inline limits small_limits() {
  limits lim;
  lim.max_instructions = 1'000'000;
  lim.max_memory_bytes = 8 * 1024 * 1024;
  lim.max_wall_time = std::chrono::milliseconds{2000};
  return lim;
}

inline caf::expected<execute_result>
run(std::string_view code, const limits& lim = small_limits(),
    const std::vector<callback>& callbacks = {}) {
  return sandbox{lim, "test-node"}.execute(code, callbacks, "trace-1");
}

/// The sandbox error code of `x`, or 0 for success / foreign errors.
inline uint8_t code_of(const caf::expected<execute_result>& x) {
  if (x || x.error().category() != sandbox_errc_category)
    return 0;
  return x.error().code();
}

inline uint8_t code(sandbox_errc x) {
  return static_cast<uint8_t>(x);
}

/// The message of a failed result ("" on success).
inline std::string message_of(const caf::expected<execute_result>& x) {
  return x ? std::string{} : caflens::error_context(x.error());
}

inline bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace caflens::sandbox::test
