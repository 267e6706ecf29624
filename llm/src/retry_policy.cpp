#include "caflens/llm/retry_policy.hpp"

#include <algorithm>
#include <cmath>

namespace caflens::llm {

std::chrono::milliseconds
retry_policy::delay(int retry,
                    std::optional<std::chrono::milliseconds> retry_after,
                    std::mt19937_64& rng) const {
  auto base = static_cast<double>(initial_backoff.count()) *
              std::pow(std::max(multiplier, 1.0), std::max(retry - 1, 0));
  base = std::min(base, static_cast<double>(max_backoff.count()));
  auto j = std::clamp(jitter, 0.0, 1.0);
  auto low = base * (1.0 - j);
  auto ms = base;
  if (j > 0 && base > 0) {
    std::uniform_real_distribution<double> dist{low, base};
    ms = dist(rng);
  }
  auto result = std::chrono::milliseconds{static_cast<int64_t>(ms)};
  if (retry_after)
    result = std::max(result, *retry_after);
  return result;
}

} // namespace caflens::llm
