#include "caflens/telemetry/trace_id.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string_view>
#include <thread>

namespace caflens::telemetry {

namespace {

// splitmix64: a fast, well-mixed generator; seeded per thread from
// random_device, the thread id, the clock and a global counter.
uint64_t splitmix(uint64_t& state) noexcept {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t seed() {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  uint64_t s = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  s ^= std::hash<std::thread::id>{}(std::this_thread::get_id());
  s ^= static_cast<uint64_t>(
    std::chrono::steady_clock::now().time_since_epoch().count());
  s += counter.fetch_add(0x632be59bd9b4e019ULL, std::memory_order_relaxed);
  return s;
}

} // namespace

std::string generate_trace_id() {
  thread_local uint64_t state = seed();
  static constexpr char digits[] = "0123456789abcdef";
  uint64_t hi, lo;
  do {
    hi = splitmix(state);
    lo = splitmix(state);
  } while (hi == 0 && lo == 0);
  std::string result(32, '0');
  for (int i = 0; i < 16; ++i) {
    result[i] = digits[(hi >> (60 - 4 * i)) & 0xF];
    result[16 + i] = digits[(lo >> (60 - 4 * i)) & 0xF];
  }
  return result;
}

bool is_trace_id(std::string_view id) noexcept {
  if (id.size() != 32)
    return false;
  bool nonzero = false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
    nonzero |= c != '0';
  }
  return nonzero;
}

} // namespace caflens::telemetry
