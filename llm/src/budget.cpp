#include "caflens/llm/budget.hpp"

#include <algorithm>
#include <cstdio>

namespace caflens::llm {

budget::budget(budget_limits limits, std::shared_ptr<llm::clock> clk)
  : limits_(limits)
  , clock_(clk ? std::move(clk) : clock::system()) {
  start_ = clock_->now();
}

void budget::charge(int64_t tokens, double cost_usd) {
  std::lock_guard<std::mutex> guard{mtx_};
  tokens_ += tokens;
  cost_ += cost_usd;
}

int64_t budget::tokens_used() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return tokens_;
}

double budget::cost_used() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return cost_;
}

std::optional<std::string> budget::exceeded() const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (limits_.max_tokens && tokens_ >= *limits_.max_tokens)
    return std::string{"tokens"};
  if (limits_.max_cost_usd && cost_ >= *limits_.max_cost_usd)
    return std::string{"cost"};
  if (limits_.time_limit && clock_->now() - start_ >= *limits_.time_limit)
    return std::string{"deadline"};
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> budget::time_left() const {
  auto limit = limits_.hard_limit ? limits_.hard_limit : limits_.time_limit;
  if (!limit)
    return std::nullopt;
  auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
    clock_->now() - start_);
  return std::max(std::chrono::milliseconds{0}, *limit - spent);
}

std::optional<std::chrono::milliseconds>
budget::time_to_final_answer() const {
  if (!limits_.time_limit)
    return std::nullopt;
  auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
    clock_->now() - start_);
  return std::max(std::chrono::milliseconds{0}, *limits_.time_limit - spent);
}

std::string budget::describe(const std::string& which) const {
  std::lock_guard<std::mutex> guard{mtx_};
  char buf[128];
  if (which == "tokens" && limits_.max_tokens) {
    std::snprintf(buf, sizeof(buf), "tokens %lld/%lld",
                  static_cast<long long>(tokens_),
                  static_cast<long long>(*limits_.max_tokens));
  } else if (which == "cost" && limits_.max_cost_usd) {
    std::snprintf(buf, sizeof(buf), "cost $%.4f/$%.4f", cost_,
                  *limits_.max_cost_usd);
  } else if (which == "deadline" && limits_.time_limit) {
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      clock_->now() - start_);
    std::snprintf(buf, sizeof(buf), "time %lld ms/%lld ms",
                  static_cast<long long>(elapsed.count()),
                  static_cast<long long>(limits_.time_limit->count()));
  } else {
    return which;
  }
  return buf;
}

} // namespace caflens::llm
