#include "caflens/llm/clock.hpp"

#include <thread>

namespace caflens::llm {

clock::~clock() = default;

namespace {

class system_clock_impl : public clock {
public:
  time_point now() const override { return std::chrono::steady_clock::now(); }

  void sleep_for(duration d) override {
    if (d.count() > 0)
      std::this_thread::sleep_for(d);
  }
};

} // namespace

std::shared_ptr<clock> clock::system() {
  // Never destroyed, like every static an actor may use (see catalogue.cpp).
  static const auto& instance = *new std::shared_ptr<system_clock_impl>(
    std::make_shared<system_clock_impl>());
  return instance;
}

manual_clock::manual_clock()
  : now_(std::chrono::steady_clock::now()) {}

clock::time_point manual_clock::now() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return now_;
}

void manual_clock::sleep_for(duration d) {
  std::lock_guard<std::mutex> guard{mtx_};
  sleeps_.push_back(d);
  if (d.count() > 0)
    now_ += d;
}

void manual_clock::advance(duration d) {
  std::lock_guard<std::mutex> guard{mtx_};
  now_ += d;
}

std::vector<clock::duration> manual_clock::sleeps() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return sleeps_;
}

clock::duration manual_clock::total_slept() const {
  std::lock_guard<std::mutex> guard{mtx_};
  duration result{0};
  for (auto d : sleeps_)
    result += d;
  return result;
}

} // namespace caflens::llm
