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

/// A circuit breaker (closed → open → half-open → closed) of one provider
/// endpoint. While open, a call that has a fallback fails fast with
/// `circuit_open` (the registry moves on); a call without one waits for the
/// half-open probe within its time left. Emits `caflens.llm.circuit_open` /
/// `circuit_close`. Thread-safe.
class circuit_breaker {
public:
  enum class state : uint8_t { closed, open, half_open };

  circuit_breaker(std::string client_name, circuit_breaker_config cfg,
                  std::shared_ptr<llm::clock> clk);

  /// The breaker of `endpoint` (a URL) on `clk`, shared by every client of
  /// that endpoint in the process: the loops of an investigation and the
  /// clients of one server trip and recover together. The first caller's
  /// configuration wins; the breaker lives while a client holds it.
  static std::shared_ptr<circuit_breaker>
  for_endpoint(const std::string& endpoint, circuit_breaker_config cfg,
               std::shared_ptr<llm::clock> clk);

  /// True when a request may be sent now (moves open → half-open once the
  /// open duration elapsed; half-open admits one probe at a time).
  bool allow();

  /// Records a successful attempt, or any answer of the endpoint that is
  /// not its failure (a 400 means the endpoint is up): closes the breaker.
  void record_success();

  /// Ends a probe that proved nothing (the call was cancelled).
  void release_probe();

  /// How long until `allow()` may admit a call: zero when closed or when a
  /// probe may go now; the rest of the open duration; a short poll while
  /// another call's probe is in flight.
  std::chrono::milliseconds retry_in() const;

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
