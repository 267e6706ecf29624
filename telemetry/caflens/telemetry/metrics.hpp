#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "caf/expected.hpp"

#include "caflens/telemetry/clock.hpp"
#include "caflens/telemetry/concurrent_sketch.hpp"
#include "caflens/telemetry/ddsketch.hpp"
#include "caflens/telemetry/event_name.hpp"
#include "caflens/telemetry/sliding_window.hpp"

namespace caflens::telemetry {

class bus;

/// What a metric aggregates (Elixir's Telemetry.Metrics).
enum class metric_kind : uint8_t {
  /// Number of events.
  counter,
  /// Sum of a measurement.
  sum,
  /// The latest value of a measurement.
  last_value,
  /// A quantile sketch of a measurement over sliding windows.
  distribution,
};

std::string_view to_string(metric_kind x) noexcept;

/// A metric over one event, keyed by chosen metadata tags. Each distinct
/// tag set is a series; past `max_series` series, further tag sets fold into
/// one overflow series (tag values "__overflow__") so memory stays bounded.
struct metric_definition {
  std::string name;
  metric_kind kind = metric_kind::counter;
  event_name event;
  /// Measurement key; unused by counters.
  std::string measurement;
  /// Metadata keys whose values make up a series (at most 8).
  std::vector<std::string> tags;
  size_t max_series = 1000;
  std::string description;
  std::string unit;
  sketch_options sketch;
  window_options window;

  static metric_definition counter(std::string name, event_name event,
                                   std::vector<std::string> tags = {});
  static metric_definition sum(std::string name, event_name event,
                               std::string measurement,
                               std::vector<std::string> tags = {});
  static metric_definition last_value(std::string name, event_name event,
                                      std::string measurement,
                                      std::vector<std::string> tags = {});
  static metric_definition distribution(std::string name, event_name event,
                                        std::string measurement,
                                        std::vector<std::string> tags = {});
};

/// One series of a collected metric.
struct series_value {
  /// (tag key, tag value) in the order of the definition's tags.
  std::vector<std::pair<std::string, std::string>> tags;
  bool overflow = false;
  /// Events recorded (counter value; samples for the others).
  uint64_t updates = 0;
  /// counter: count; sum: total; last_value: latest; distribution: sum.
  double value = 0;
  /// Distributions only: the window asked for, or all-time.
  std::optional<ddsketch> distribution;
};

/// A collected metric.
struct metric_value {
  metric_definition definition;
  std::vector<series_value> series;
};

/// One series of a distribution metric, bound once for a hot loop (what a
/// cached `prometheus::Histogram&` is to prometheus-cpp). `record(x)` adds
/// a sample to that series, as `execute` of the metric's event with that
/// measurement and those tags would, but without the bus: no other handler
/// of the event sees it, and nothing is looked up per sample.
///
/// Made by `metric_registry::recorder`. Copyable, thread-safe; it keeps its
/// series alive, so it stays safe to use after the metric is removed or
/// the registry is gone (its samples then reach nothing that is collected),
/// as long as the clock given to the registry lives (the default one
/// always does). A default-constructed recorder records nothing.
class distribution_recorder {
public:
  distribution_recorder() noexcept = default;

  /// Adds one sample (NaN is ignored, as by the metric).
  void record(double x) noexcept {
    if (window_ != nullptr)
      window_->add(x);
  }

  explicit operator bool() const noexcept {
    return window_ != nullptr;
  }

private:
  friend class metric_registry;

  distribution_recorder(std::shared_ptr<const void> owner,
                        windowed_sketch* window) noexcept
    : owner_(std::move(owner)), window_(window) {
  }

  std::shared_ptr<const void> owner_;
  windowed_sketch* window_ = nullptr;
};

/// Metric definitions attached to a bus. Each metric is one handler (id
/// "caflens.metrics.<name>"); recording is lock-free and allocation-free
/// once a series exists.
///
/// Thread-safe. Destroying the registry detaches its handlers.
class metric_registry {
public:
  explicit metric_registry(bus& b, const clock& clk = clock::coarse());
  metric_registry();
  ~metric_registry();

  metric_registry(const metric_registry&) = delete;
  metric_registry& operator=(const metric_registry&) = delete;

  /// Adds and attaches a metric. Errors: `invalid_metric` (no name, no
  /// measurement for a non-counter, more than 8 tags, max_series 0),
  /// `invalid_event_name`, `already_exists`.
  caf::error add(metric_definition def);

  /// Detaches and drops a metric. Error: `not_found`.
  caf::error remove(std::string_view name);

  std::vector<std::string> names() const;

  /// Binds the series of distribution `name` with these tag values (in the
  /// order of the definition's tags; none for an untagged metric), making
  /// it if needed. Past `max_series` it is the overflow series, as for
  /// `execute`. Errors: `not_found`; `invalid_argument` when the metric is
  /// not a distribution or the tag values do not match its tags.
  caf::expected<distribution_recorder>
  recorder(std::string_view name,
           const std::vector<std::string>& tag_values = {}) const;

  /// Current values; distributions over the last `window` (all-time when
  /// zero). Error: `not_found`.
  caf::expected<metric_value>
  collect(std::string_view name,
          std::chrono::nanoseconds window = std::chrono::nanoseconds{0}) const;

  std::vector<metric_value> collect_all(
    std::chrono::nanoseconds window = std::chrono::nanoseconds{0}) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace caflens::telemetry
