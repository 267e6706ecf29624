#include "caflens/skills/tracked.hpp"

namespace caflens::skills::detail {

__attribute__((tls_model("initial-exec"))) thread_local uint64_t
  tl_consume_runs = 0;

} // namespace caflens::skills::detail
