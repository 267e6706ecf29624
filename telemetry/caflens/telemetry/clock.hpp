#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>

namespace caflens::telemetry {

namespace detail {

using clock_gettime_fn = int (*)(clockid_t, timespec*);

/// The kernel's vDSO `clock_gettime` when the dynamic linker can name it
/// (one call instead of libc's wrapper around it; about 1 ns less per
/// read), else libc's. Starts as a resolver, so it is safe to call during
/// static initialization.
extern constinit std::atomic<clock_gettime_fn> fast_clock_gettime;

} // namespace detail

/// A source of monotonic nanoseconds for time windows. Implementations are
/// thread-safe.
class clock {
public:
  virtual ~clock();

  virtual int64_t now_ns() const noexcept = 0;

  /// CLOCK_MONOTONIC_COARSE: a few ns per read, millisecond resolution;
  /// plenty for windows of seconds. The default of windowed metrics.
  static const clock& coarse() noexcept;

  /// What `coarse().now_ns()` returns, without the virtual call.
  static int64_t coarse_now_ns() noexcept {
    timespec ts;
    detail::fast_clock_gettime.load(std::memory_order_relaxed)(
      CLOCK_MONOTONIC_COARSE, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  }

  /// std::chrono::steady_clock.
  static const clock& steady() noexcept;
};

/// A clock that moves only when told (tests, simulations). Thread-safe.
class manual_clock final : public clock {
public:
  explicit manual_clock(int64_t start_ns = 0) : now_(start_ns) {
  }

  int64_t now_ns() const noexcept override {
    return now_.load(std::memory_order_acquire);
  }

  void advance(std::chrono::nanoseconds d) noexcept {
    now_.fetch_add(d.count(), std::memory_order_acq_rel);
  }

  void set(int64_t ns) noexcept {
    now_.store(ns, std::memory_order_release);
  }

private:
  std::atomic<int64_t> now_;
};

} // namespace caflens::telemetry
