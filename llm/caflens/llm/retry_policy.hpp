#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace caflens::llm {

/// Retry policy of one client: bounded attempts, exponential backoff with
/// full jitter, and Retry-After honoured up to a cap. A value type.
struct retry_policy {
  /// Total attempts per call including the first (1 = no retry).
  int max_attempts = 4;
  /// Backoff before retry n (1-based): min(max, initial * multiplier^(n-1)),
  /// then jittered.
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{8000};
  double multiplier = 2.0;
  /// Fraction of the backoff that is randomized: the delay is drawn from
  /// [backoff * (1 - jitter), backoff]. 0 disables jitter.
  double jitter = 0.5;
  /// A Retry-After longer than this is not waited for: the call fails (and
  /// the registry may fall back).
  std::chrono::milliseconds max_retry_after{60000};

  /// The delay before retry number `retry` (1-based), honouring
  /// `retry_after` when the server sent one (never shorter than it).
  std::chrono::milliseconds
  delay(int retry, std::optional<std::chrono::milliseconds> retry_after,
        std::mt19937_64& rng) const;
};

} // namespace caflens::llm
