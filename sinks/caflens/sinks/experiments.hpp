#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/error.hpp"
#include "caf/expected.hpp"

#include "caflens/sinks/file_sink.hpp"
#include "caflens/sinks/sink.hpp"

namespace caflens::telemetry {
class bus;
} // namespace caflens::telemetry

namespace caflens::sinks {

/// What an experiment captures (CrucibleTelemetry's experiments).
struct experiment_options {
  /// Unique while running (the handler id is "caflens.experiment.<name>").
  std::string name;
  /// The arm: "baseline", "candidate", "A"...
  std::string condition;
  /// Tags copied into every captured record's metadata (as
  /// `experiment`, `condition` and these).
  std::vector<std::pair<std::string, std::string>> tags;
  /// The events captured (required).
  std::vector<telemetry::event_name> events;
  /// Isolation: only events whose metadata has these values (e.g.
  /// {"experiment", "ranker-v2"} set by the code under test, or a
  /// correlation id); empty: every event of `events`.
  std::vector<std::pair<std::string, std::string>> match;
  /// The measurement that is the latency, and its unit scale to ms
  /// (durations are ns: 1e-6).
  std::string latency = "duration";
  double latency_to_ms = 1e-6;
  /// At most this many records are kept (the oldest go first).
  size_t max_records = 100'000;
  /// Streaming export: every captured record is also written here (JSONL or
  /// CSV, rotated like a file sink) when set.
  std::string export_path;
  file_format export_format = file_format::jsonl;
};

enum class experiment_state : uint8_t { running, paused, stopped };

std::string_view to_string(experiment_state x) noexcept;

/// Aggregates of a set of records.
struct experiment_metrics {
  size_t count = 0;
  /// Records that are no failure: not an `exception` event, metadata
  /// `result` not "error", `ok` not false.
  size_t successes = 0;
  double success_rate = 0;
  /// Latency in ms over the records that carry the latency measurement.
  size_t latency_samples = 0;
  double latency_mean = 0;
  double latency_p50 = 0;
  double latency_p95 = 0;
  double latency_p99 = 0;
  /// Sums of input_tokens, output_tokens and cost_usd measurements.
  double input_tokens = 0;
  double output_tokens = 0;
  double cost_usd = 0;

  nlohmann::json to_json() const;
};

/// One experiment: captures its events (tagged, isolated by `match`),
/// pauses and resumes, answers window queries and computes metrics.
/// Thread-safe. Emits `caflens.experiment.started` and `.stopped`.
class experiment {
public:
  /// Attaches to `b`. Errors: `invalid_options` (no name or events),
  /// the bus's `already_exists` (a running experiment of that name),
  /// the export file's `io_error`.
  static caf::expected<std::shared_ptr<experiment>>
  start(telemetry::bus& b, experiment_options opts);

  ~experiment();

  const experiment_options& options() const noexcept {
    return opts_;
  }

  experiment_state state() const;

  /// Paused: events are not captured (and not exported).
  void pause();
  void resume();

  /// Detaches, flushes the export and emits `caflens.experiment.stopped`.
  /// Idempotent.
  void stop();

  /// Adds a record as if its event had been captured (the metrics-store
  /// port's `record`; tests inject times this way). Ignored unless running.
  void record(sinks::record x);

  // -- windows ----------------------------------------------------------------

  /// Every kept record, oldest first.
  std::vector<sinks::record> records() const;

  /// Records of the last `d` before `now_ns` (Unix ns).
  std::vector<sinks::record> last(std::chrono::nanoseconds d,
                                  int64_t now_ns) const;

  /// The newest `n` records.
  std::vector<sinks::record> last_n(size_t n) const;

  /// Records within [from_ns, to_ns] that pass `filter` (all when empty).
  std::vector<sinks::record>
  range(int64_t from_ns, int64_t to_ns,
        const std::function<bool(const sinks::record&)>& filter = {}) const;

  /// Metrics of windows `width` wide, every `step`, from the first record
  /// to the last: (window start ns, metrics).
  std::vector<std::pair<int64_t, experiment_metrics>>
  sliding(std::chrono::nanoseconds width, std::chrono::nanoseconds step) const;

  // -- metrics ----------------------------------------------------------------

  experiment_metrics metrics() const;

  experiment_metrics metrics_of(const std::vector<sinks::record>& xs) const;

  /// The latency samples in ms (for `compare`).
  std::vector<double> latencies() const;

private:
  experiment(telemetry::bus& b, experiment_options opts);

  bool admits(const sinks::record& x) const;

  telemetry::bus* bus_;
  experiment_options opts_;
  std::shared_ptr<file_sink> export_;
  mutable std::mutex mtx_;
  std::deque<sinks::record> records_;
  experiment_state state_ = experiment_state::running;
  uint64_t captured_ = 0;
  /// Set once its handler is attached: a failed start detaches nothing.
  bool attached_ = false;
};

/// Welch's two-sample t-test and effect sizes.
struct comparison {
  size_t n_a = 0;
  size_t n_b = 0;
  double mean_a = 0;
  double mean_b = 0;
  /// mean_b - mean_a.
  double difference = 0;
  double t = 0;
  /// Welch–Satterthwaite degrees of freedom.
  double df = 0;
  /// Two-sided.
  double p_value = 1;
  /// Confidence interval of the difference.
  double ci_low = 0;
  double ci_high = 0;
  double confidence = 0.95;
  /// Cohen's d (pooled standard deviation) and Hedges' g (its small-sample
  /// correction).
  double cohens_d = 0;
  double hedges_g = 0;

  nlohmann::json to_json() const;
};

/// Compares samples b against a. Errors: `invalid_options` (fewer than two
/// samples on a side, a confidence outside (0, 1), both variances zero).
caf::expected<comparison> compare(const std::vector<double>& a,
                                  const std::vector<double>& b,
                                  double confidence = 0.95);

/// Two-sided p-value of Student's t with `df` degrees of freedom.
double student_t_two_sided_p(double t, double df);

/// A port to keep experiment metrics (CrucibleTelemetry's metrics store).
class metrics_store {
public:
  virtual ~metrics_store();
  virtual caf::error record(const std::string& experiment,
                            const experiment_metrics& m, int64_t at_ns)
    = 0;
  virtual caf::error flush() = 0;
  /// Everything recorded for `experiment`, oldest first, as JSON objects
  /// {experiment, at_ns, metrics}.
  virtual caf::expected<std::vector<nlohmann::json>>
  read(const std::string& experiment) = 0;
};

/// The JSONL adapter: one line per record, fsync on flush.
class jsonl_metrics_store final : public metrics_store {
public:
  explicit jsonl_metrics_store(std::string path);
  ~jsonl_metrics_store() override;
  caf::error record(const std::string& experiment,
                    const experiment_metrics& m, int64_t at_ns) override;
  caf::error flush() override;
  caf::expected<std::vector<nlohmann::json>>
  read(const std::string& experiment) override;

private:
  std::string path_;
  int fd_ = -1;
  std::mutex mtx_;
};

} // namespace caflens::sinks
