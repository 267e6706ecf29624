#include "caflens/demo/scenario.hpp"

#include <array>
#include <utility>

namespace caflens::demo {

namespace {

struct entry {
  scenario id;
  std::string_view name;
  std::string_view fault;
};

constexpr std::array<entry, 8> entries{{
  {scenario::healthy, "healthy", "no fault: the control run"},
  {scenario::slow_consumer, "slow_consumer",
   "worker-2's scratch disk degrades: every upload costs it 10 ms of "
   "synchronous I/O, slower than the dispatcher feeds it"},
  {scenario::memory_leak, "memory_leak",
   "the store stops evicting its preview cache: 4 KiB per stored upload, "
   "never freed"},
  {scenario::crash_loop, "crash_loop",
   "worker-3's scratch volume is full: it crashes 400 ms after every "
   "(re)start"},
  {scenario::scheduler_starvation, "scheduler_starvation",
   "worker-4 virus-scans a 2 GiB upload inline, blocking its scheduler "
   "thread for 3.5 s"},
  {scenario::unresponsive, "unresponsive",
   "strict quota mode: the catalog awaits billing before indexing while "
   "billing awaits the catalog's usage: a request cycle"},
  {scenario::error_burst, "error_burst",
   "worker-1 loses its HEIC decoder: it rejects every HEIC upload (5 %) "
   "with an error"},
  {scenario::latency_regression, "latency_regression",
   "the object store fails over to a remote region: the store's writes "
   "take 4x longer"},
}};

} // namespace

std::string_view to_string(scenario x) noexcept {
  for (auto& e : entries)
    if (e.id == x)
      return e.name;
  return "unknown";
}

bool parse_scenario(std::string_view x, scenario& out) noexcept {
  for (auto& e : entries)
    if (e.name == x) {
      out = e.id;
      return true;
    }
  return false;
}

const std::vector<scenario>& all_scenarios() noexcept {
  static const auto& xs = *new std::vector<scenario>([] {
    std::vector<scenario> r;
    for (auto& e : entries)
      r.push_back(e.id);
    return r;
  }());
  return xs;
}

std::string_view fault_description(scenario x) noexcept {
  for (auto& e : entries)
    if (e.id == x)
      return e.fault;
  return {};
}

} // namespace caflens::demo
