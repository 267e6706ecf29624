#include "caflens/skills/tracked.hpp"

namespace caflens::skills::detail {

int64_t steady_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

__attribute__((tls_model("initial-exec"))) thread_local uint64_t
  tl_consume_runs = 0;

} // namespace caflens::skills::detail
