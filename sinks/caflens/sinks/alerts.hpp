#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/expected.hpp"
#include "caf/fwd.hpp"

#include "caflens/telemetry/metrics.hpp"

namespace caflens::telemetry {
class bus;
} // namespace caflens::telemetry

namespace caflens::sinks {

/// What an alert rule measures.
enum class alert_kind : uint8_t {
  /// A quantile of a distribution over `window` (the worst series).
  quantile,
  /// How much a counter or sum grew over `window` (restarts in a window).
  increase,
  /// increase(metric) / increase(denominator) over `window`, in percent
  /// (an error rate).
  ratio,
  /// The current value of a metric (the worst series): a mailbox depth.
  value,
  /// `probe()`: any number the application computes.
  probe,
};

std::string_view to_string(alert_kind x) noexcept;

/// A threshold rule over the metric registry, with DSPex's occurrence
/// counting and minimum-interval suppression.
struct alert_rule {
  std::string name;
  alert_kind kind = alert_kind::value;
  /// The metric (by its registry name); ratio: the numerator.
  std::string metric;
  /// ratio: the denominator metric.
  std::string denominator;
  /// quantile: which one (0..1).
  double quantile = 0.99;
  std::chrono::milliseconds window{60'000};
  /// Only series whose tags have these values count (empty: all).
  std::vector<std::pair<std::string, std::string>> match;
  /// probe: the value, or nullopt when there is none.
  std::function<std::optional<double>()> probe;
  /// Fire when the value is above (or, with `below`, under) this.
  double threshold = 0;
  bool below = false;
  /// Consecutive breaching evaluations before the alert fires.
  uint32_t occurrences = 1;
  /// At least this long between two firings of the rule.
  std::chrono::milliseconds min_interval{60'000};
  /// info, warning or critical.
  std::string severity = "warning";
  std::string description;
};

/// A change of an alert's state.
struct alert_event {
  std::string rule;
  /// True: fired; false: resolved.
  bool fired = true;
  alert_kind kind = alert_kind::value;
  std::string metric;
  double value = 0;
  double threshold = 0;
  bool below = false;
  /// The series that breached ("worker=w-2"), when the metric has tags.
  std::string series;
  std::string severity;
  std::string description;
  /// Unix ms.
  int64_t at_ms = 0;
  /// Breaching evaluations in a row when it fired.
  uint32_t occurrences = 0;

  nlohmann::json to_json() const;

  /// One line: "p99_upload: shop.latency quantile = 2.31 above 2
  /// (route=/up)", i.e. the rule, then `condition()`.
  std::string text() const;

  /// What was measured against what: "shop.latency quantile = 2.31 above 2
  /// (route=/up)"; for a probe its metric label only ("upload.queue_depth =
  /// 1041 above 999"), "probe" without one.
  std::string condition() const;
};

using alert_handler = std::function<void(const alert_event&)>;

/// Evaluates alert rules over a metric registry. Thread-safe. Every state
/// change emits `caflens.alert.fired` / `caflens.alert.resolved` on `bus`
/// and calls the handlers.
class alert_engine {
public:
  /// Errors: `invalid_options` (a rule without name or metric, a ratio
  /// without denominator, a probe without function, a quantile outside
  /// 0..1, occurrences 0, a window of 0, a name used twice).
  static caf::expected<std::shared_ptr<alert_engine>>
  make(std::shared_ptr<const telemetry::metric_registry> reg,
       std::vector<alert_rule> rules, telemetry::bus* bus = nullptr);

  void add_handler(alert_handler fn);

  /// Evaluates every rule at `now_ms` (Unix ms; tests inject it) and
  /// returns the state changes, after emitting and handling them.
  std::vector<alert_event> evaluate(int64_t now_ms);

  /// The rules' current state: {rule, firing, value, breaches,
  /// last_fired_ms, suppressed}.
  nlohmann::json status() const;

  const std::vector<alert_rule>& rules() const noexcept {
    return rules_;
  }

private:
  struct rule_state {
    bool firing = false;
    uint32_t breaches = 0;
    int64_t last_fired_ms = -1;
    uint64_t suppressed = 0;
    std::optional<double> value;
    std::string series;
    /// (now_ms, cumulative total) for increase and ratio rules.
    std::deque<std::pair<int64_t, double>> samples;
    std::deque<std::pair<int64_t, double>> den_samples;
  };

  alert_engine(std::shared_ptr<const telemetry::metric_registry> reg,
               std::vector<alert_rule> rules, telemetry::bus* bus);

  std::optional<double> measure(const alert_rule& r, rule_state& st,
                                int64_t now_ms);

  std::shared_ptr<const telemetry::metric_registry> reg_;
  std::vector<alert_rule> rules_;
  std::vector<rule_state> states_;
  telemetry::bus* bus_;
  std::vector<alert_handler> handlers_;
  mutable std::mutex mtx_;
};

/// Spawns the actor that evaluates `eng` every `interval` (wall clock).
/// It answers `get_atom` with `status()` as JSON text and `flush_atom`
/// (evaluate now) with `ok_atom`.
caf::actor spawn_alert_evaluator(caf::actor_system& sys,
                                 std::shared_ptr<alert_engine> eng,
                                 std::chrono::milliseconds interval);

/// Where a webhook handler posts.
struct webhook_options {
  /// "http://host:port/path" (https when httplib has OpenSSL).
  std::string url;
  std::chrono::milliseconds timeout{5000};
  /// Further attempts after a failure (connection error or non-2xx),
  /// `retry_delay` apart.
  uint32_t retries = 2;
  std::chrono::milliseconds retry_delay{500};
  /// Extra headers (e.g. {"Authorization", "Bearer ..."}).
  std::vector<std::pair<std::string, std::string>> headers;
};

/// POSTs `body` (JSON) to the webhook, retrying as configured. Errors:
/// `invalid_options` (a URL that is not http(s)), `network_error` (the
/// last attempt's failure).
caf::error post_webhook(const webhook_options& opts, const std::string& body);

/// Spawns a detached actor that posts every alert event it receives (as
/// JSON text) to the webhook, so a slow endpoint never delays evaluation;
/// a delivery that fails after its retries emits
/// `caflens.sink.export.exception` (sink "webhook"). Returns the handler
/// to add to an `alert_engine` and the actor.
std::pair<alert_handler, caf::actor>
spawn_webhook(caf::actor_system& sys, webhook_options opts);

} // namespace caflens::sinks
