#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "caflens/llm/clock.hpp"

namespace caflens::llm {

/// Limits of one investigation; unset means unlimited.
struct budget_limits {
  /// Prompt + completion tokens over all LLM calls.
  std::optional<int64_t> max_tokens;
  /// Cost in USD over all LLM calls (from the clients' prices).
  std::optional<double> max_cost_usd;
  /// Wall time from the budget's creation after which the loops are asked
  /// for their final answer.
  std::optional<std::chrono::milliseconds> time_limit;
  /// Wall time from the budget's creation by which every call must have
  /// returned (the investigation's deadline): each LLM call's timeout is
  /// bounded by what is left of it. Unset: `time_limit`.
  std::optional<std::chrono::milliseconds> hard_limit;
};

/// What is spent of a budget and which limit, if any, is hit. Shared by every
/// conversation (operator) of one investigation. Thread-safe.
class budget {
public:
  explicit budget(budget_limits limits,
                  std::shared_ptr<llm::clock> clk = clock::system());

  /// Adds the tokens and cost of one LLM call.
  void charge(int64_t tokens, double cost_usd);

  int64_t tokens_used() const;

  double cost_used() const;

  const budget_limits& limits() const noexcept { return limits_; }

  /// The first limit that is hit: "tokens", "cost" or "deadline"; nullopt
  /// while within budget.
  std::optional<std::string> exceeded() const;

  /// Human-readable "tokens 1200/1000" for the limit `which`.
  std::string describe(const std::string& which) const;

  /// Time left until the hard limit (never negative); nullopt without one.
  std::optional<std::chrono::milliseconds> time_left() const;

  /// Time left until `time_limit`, when the final answer is asked for
  /// (never negative); nullopt without one.
  std::optional<std::chrono::milliseconds> time_to_final_answer() const;

  /// Cancels every call charged to this budget: calls not yet sent fail with
  /// `cancelled`, transfers in progress are interrupted, retry waits end.
  void cancel() noexcept { cancelled_.store(true); }

  bool cancelled() const noexcept { return cancelled_.load(); }

private:
  budget_limits limits_;
  std::shared_ptr<llm::clock> clock_;
  clock::time_point start_;
  mutable std::mutex mtx_;
  int64_t tokens_ = 0;
  double cost_ = 0;
  std::atomic<bool> cancelled_{false};
};

} // namespace caflens::llm
