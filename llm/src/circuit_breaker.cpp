#include "caflens/llm/circuit_breaker.hpp"

#include <algorithm>

#include "caflens/llm/detail/events.hpp"
#include "caflens/llm/detail/shared_by_key.hpp"

namespace caflens::llm {

std::string_view to_string(circuit_breaker::state x) noexcept {
  switch (x) {
    case circuit_breaker::state::closed:
      return "closed";
    case circuit_breaker::state::open:
      return "open";
    case circuit_breaker::state::half_open:
      return "half_open";
  }
  return "unknown";
}

circuit_breaker::circuit_breaker(std::string client_name,
                                 circuit_breaker_config cfg,
                                 std::shared_ptr<llm::clock> clk)
  : client_(std::move(client_name))
  , cfg_(cfg)
  , clock_(clk ? std::move(clk) : clock::system()) {}

std::shared_ptr<circuit_breaker>
circuit_breaker::for_endpoint(const std::string& endpoint,
                              circuit_breaker_config cfg,
                              std::shared_ptr<llm::clock> clk) {
  if (!clk)
    clk = clock::system();
  // Clients on different clocks (tests) cannot share time, hence no breaker.
  auto key = std::make_pair(endpoint, static_cast<const void*>(clk.get()));
  return detail::shared_by_key<circuit_breaker>(key, [&] {
    return std::make_shared<circuit_breaker>(endpoint, cfg, clk);
  });
}

void circuit_breaker::release_probe() {
  std::lock_guard<std::mutex> guard{mtx_};
  probe_in_flight_ = false;
}

std::chrono::milliseconds circuit_breaker::retry_in() const {
  using std::chrono::milliseconds;
  std::lock_guard<std::mutex> guard{mtx_};
  switch (state_) {
    case state::closed:
      return milliseconds{0};
    case state::open: {
      auto left = std::chrono::duration_cast<milliseconds>(
        cfg_.open_duration - (clock_->now() - opened_at_));
      return std::max(left, milliseconds{0});
    }
    case state::half_open:
      return probe_in_flight_ ? milliseconds{100} : milliseconds{0};
  }
  return milliseconds{0};
}

bool circuit_breaker::allow() {
  std::lock_guard<std::mutex> guard{mtx_};
  switch (state_) {
    case state::closed:
      return true;
    case state::open:
      if (clock_->now() - opened_at_ < cfg_.open_duration)
        return false;
      state_ = state::half_open;
      probe_in_flight_ = true;
      return true;
    case state::half_open:
      if (probe_in_flight_)
        return false;
      probe_in_flight_ = true;
      return true;
  }
  return true;
}

void circuit_breaker::record_success() {
  bool closed_now = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    closed_now = state_ != state::closed;
    state_ = state::closed;
    failures_ = 0;
    probe_in_flight_ = false;
  }
  if (closed_now)
    detail::emit_circuit_close(client_);
}

void circuit_breaker::record_failure(const std::string& reason) {
  int failures = 0;
  bool opened_now = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    failures = ++failures_;
    probe_in_flight_ = false;
    if (state_ == state::half_open ||
        (state_ == state::closed && failures_ >= cfg_.failure_threshold)) {
      opened_now = true;
      state_ = state::open;
      opened_at_ = clock_->now();
    }
  }
  if (opened_now)
    detail::emit_circuit_open(client_, failures, reason);
}

circuit_breaker::state circuit_breaker::current() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return state_;
}

int circuit_breaker::consecutive_failures() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return failures_;
}

} // namespace caflens::llm
