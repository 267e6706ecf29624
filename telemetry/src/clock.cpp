#include "caflens/telemetry/clock.hpp"

#include <chrono>
#include <ctime>

namespace caflens::telemetry {

// -- clocks -------------------------------------------------------------------

clock::~clock() = default;

namespace {

class coarse_clock final : public clock {
public:
  int64_t now_ns() const noexcept override {
    return coarse_now_ns();
  }
};

class steady_clock final : public clock {
public:
  int64_t now_ns() const noexcept override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
  }
};

} // namespace

// Never destroyed: a window may read its clock while the process exits.
const clock& clock::coarse() noexcept {
  static const auto& instance = *new coarse_clock;
  return instance;
}

const clock& clock::steady() noexcept {
  static const auto& instance = *new steady_clock;
  return instance;
}

} // namespace caflens::telemetry
