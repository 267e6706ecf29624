#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace caflens::demo {

/// A fault the demo application can inject; the ids of the faulty ones are
/// the failure patterns of the rule brain (`insight::pattern`).
enum class scenario : uint8_t {
  /// No fault: the control run.
  healthy,
  /// worker-2 gets slower than its producers: its mailbox grows.
  slow_consumer,
  /// The store stops evicting its preview cache: its state grows.
  memory_leak,
  /// worker-3 crashes 400 ms after every (re)start.
  crash_loop,
  /// worker-4 blocks its scheduler thread for 3.5 s.
  scheduler_starvation,
  /// catalog and billing await each other: a request cycle.
  unresponsive,
  /// worker-1 rejects every HEIC upload (5 %) with an error log line.
  error_burst,
  /// The store's writes get 4x slower.
  latency_regression,
};

/// The scenario's id ("healthy", "slow_consumer", ...).
std::string_view to_string(scenario x) noexcept;

/// Parses an id of `to_string`; false for anything else.
bool parse_scenario(std::string_view x, scenario& out) noexcept;

/// Every scenario, `healthy` first.
const std::vector<scenario>& all_scenarios() noexcept;

/// One sentence on what the fault does to the pipeline.
std::string_view fault_description(scenario x) noexcept;

} // namespace caflens::demo
