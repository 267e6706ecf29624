#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

namespace caflens::llm {

/// The time source and sleep hook of the llm component (retry backoff,
/// circuit breaker cool-down, budgets, latency). Tests inject a
/// `manual_clock` so nothing waits for real. Implementations are thread-safe.
class clock {
public:
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~clock();

  /// Monotonic now.
  virtual time_point now() const = 0;

  /// Blocks (or pretends to) for `d`.
  virtual void sleep_for(duration d) = 0;

  /// The process-wide steady clock with real sleeps.
  static std::shared_ptr<clock> system();
};

/// A clock that only moves when told: `sleep_for` advances it at once and
/// records the requested duration. Thread-safe.
class manual_clock : public clock {
public:
  manual_clock();

  time_point now() const override;

  void sleep_for(duration d) override;

  /// Moves the clock forward without recording a sleep.
  void advance(duration d);

  /// Every duration passed to `sleep_for`, in order.
  std::vector<duration> sleeps() const;

  /// Sum of all sleeps.
  duration total_slept() const;

private:
  mutable std::mutex mtx_;
  time_point now_;
  std::vector<duration> sleeps_;
};

} // namespace caflens::llm
