#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "caflens/llm/clock.hpp"

namespace caflens::llm {

/// When a client's breaker opens and for how long.
struct circuit_breaker_config {
  /// Consecutive failed attempts (retryable errors) that open the breaker.
  int failure_threshold = 5;
  /// How long the breaker stays open before one probe call is let through.
  std::chrono::milliseconds open_duration{30000};
};

/// A circuit breaker (closed → open → half-open → closed). While open, calls
/// fail fast with `circuit_open`, so a registry moves on to its fallback.
/// Emits `caflens.llm.circuit_open` / `circuit_close`. Thread-safe.
class circuit_breaker {
public:
  enum class state : uint8_t { closed, open, half_open };

  circuit_breaker(std::string client_name, circuit_breaker_config cfg,
                  std::shared_ptr<llm::clock> clk);

  /// True when a request may be sent now (moves open → half-open once the
  /// open duration elapsed; half-open admits one probe at a time).
  bool allow();

  /// Records a successful attempt (closes the breaker).
  void record_success();

  /// Records a failed attempt; opens the breaker at the threshold, or again
  /// at once when the half-open probe fails.
  void record_failure(const std::string& reason);

  state current() const;

  int consecutive_failures() const;

private:
  std::string client_;
  circuit_breaker_config cfg_;
  std::shared_ptr<llm::clock> clock_;
  mutable std::mutex mtx_;
  state state_ = state::closed;
  int failures_ = 0;
  bool probe_in_flight_ = false;
  clock::time_point opened_at_{};
};

std::string_view to_string(circuit_breaker::state x) noexcept;

} // namespace caflens::llm
