#include "caflens/skills/tracked.hpp"

namespace caflens::skills::detail {

int64_t steady_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

void after_consume() noexcept {
  __attribute__((tls_model("initial-exec"))) static thread_local uint64_t
    runs = 0;
  if ((++runs & 63) == 0)
    flush_enqueue_counts();
}

} // namespace caflens::skills::detail
