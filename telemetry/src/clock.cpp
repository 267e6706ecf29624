#include "caflens/telemetry/clock.hpp"

#include <chrono>
#include <ctime>

#if defined(__linux__) && defined(__GLIBC__)
#  include <dlfcn.h>
#endif

namespace caflens::telemetry {

// -- the vDSO's clock_gettime -------------------------------------------------

namespace detail {

namespace {

clock_gettime_fn find_clock_gettime() noexcept {
#if defined(__linux__) && defined(__GLIBC__)
  // The vDSO is always mapped; RTLD_NOLOAD only names it. Its symbol is
  // __vdso_clock_gettime on x86-64 and __kernel_clock_gettime on arm64.
  if (auto* vdso = dlopen("linux-vdso.so.1", RTLD_LAZY | RTLD_NOLOAD)) {
    for (auto* name : {"__vdso_clock_gettime", "__kernel_clock_gettime"})
      if (auto* sym = dlsym(vdso, name)) {
        auto fn = reinterpret_cast<clock_gettime_fn>(sym);
        timespec ts;
        if (fn(CLOCK_MONOTONIC_COARSE, &ts) == 0)
          return fn;
      }
  }
#endif
  return &::clock_gettime;
}

int resolve_clock_gettime(clockid_t id, timespec* ts) {
  auto fn = find_clock_gettime();
  fast_clock_gettime.store(fn, std::memory_order_relaxed);
  return fn(id, ts);
}

} // namespace

constinit std::atomic<clock_gettime_fn> fast_clock_gettime{
  &resolve_clock_gettime};

} // namespace detail

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
