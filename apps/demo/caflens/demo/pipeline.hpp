// The demo application of caflens: an upload pipeline in CAF.
//
//   producer-1..3 ──► dispatcher ──► upload_sup (one_for_one)
//                                     ├── worker-1 ─┐
//                                     ├── ...       ├──► store ──► catalog ◄──►
//                                     billing └── worker-4 ─┘
//
// Producers emit uploads at a steady rate; the dispatcher deals them round
// robin to the supervised workers, which check each upload and have it
// scanned (an asynchronous call of about 4 ms); the store writes it (about
// 8 ms, asynchronous), keeps a bounded preview cache and hands batches to the
// catalog every 100 ms; billing keeps each tenant's usage from the catalog.
// Every actor is tracked (`spawn_tracked`), latencies go into a
// `metric_registry` distribution per stage, log lines into a `log_buffer`.
//
// `inject` plants one fault (`scenario`); `check` / `watch` look at the
// pipeline the way an operator's alert rules would (queue depth, stage p99,
// error rate, restarts, RSS, catalog freshness) and say which limit was
// crossed first: the trigger of an investigation.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/actor.hpp"
#include "caf/expected.hpp"
#include "caf/fwd.hpp"

#include "caflens/demo/scenario.hpp"
#include "caflens/skills/builtin.hpp"

namespace caflens::skills {
class log_buffer;
class process_table;
} // namespace caflens::skills

namespace caflens::telemetry {
class metric_registry;
} // namespace caflens::telemetry

namespace caflens::demo {

/// The metric the pipeline records stage latencies in (milliseconds, tag
/// `stage`: "process" or "store").
inline constexpr std::string_view stage_latency_metric = "upload.stage.latency";

/// Detector thresholds for an application that runs seconds, not hours: the
/// latency detector compares the last 1 s with the last 60 s (instead of 1
/// and 15 minutes, which would need 15 minutes of history). Everything else
/// keeps its default.
skills::detector_thresholds demo_thresholds();

/// The limits of the demo's alert rules.
struct alert_limits {
  /// Messages waiting in the pipeline's mailboxes.
  uint64_t queue_depth = 1000;
  /// p99 of a stage over the last second, held for `slo_hold` (ms).
  double process_p99_ms = 100;
  double store_p99_ms = 40;
  std::chrono::milliseconds slo_hold{1000};
  /// Error log lines within the last second.
  size_t errors_per_second = 10;
  /// Worker restarts within 60 s.
  size_t restarts_per_minute = 3;
  /// RSS growth since the fault was injected.
  int64_t rss_growth_bytes = 24 << 20;
  /// Time since the catalog last indexed a batch.
  std::chrono::milliseconds catalog_staleness{2000};
};

/// A crossed limit: what an investigation is started with.
struct alert {
  /// queue_depth, stage_p99, error_rate, restarts, rss, catalog_freshness,
  /// scheduled or timeout.
  std::string name;
  /// The investigation's reason, with the measured value and the limit.
  std::string reason;
  /// "threshold" or "schedule" (`investigate_options::trigger`).
  std::string trigger;
  /// The measured numbers (JSON object).
  nlohmann::json context = nlohmann::json::object();
  /// Time from `inject` to the alert.
  std::chrono::milliseconds after_fault{0};
};

/// One measure behind the demo's alert rules (`caflens::sinks::alert_rule`
/// of kind probe, built by `caflens demo`), in the order `check` looks.
struct alert_probe {
  /// As `alert::name`: restarts, error_rate, catalog_freshness, rss,
  /// store_p99, process_p99, queue_depth.
  std::string name;
  /// What is measured, with its unit ("upload.queue_depth").
  std::string metric;
  /// What it means, for the investigation's reason.
  std::string description;
  /// Crossed when the value is above it.
  double threshold = 0;
  /// How long it must stay crossed.
  std::chrono::milliseconds hold{0};
  /// The value now; nullopt before `inject` (no alert during the warm-up)
  /// or without enough samples.
  std::function<std::optional<double>()> value;
};

struct pipeline_options {
  size_t producers = 3;
  /// Supervised workers (at least 4: scenarios pick workers 1 to 4).
  size_t workers = 4;
  /// Uploads per second of each producer.
  uint32_t uploads_per_second = 1000;
  /// Where the pipeline logs (null: a new buffer).
  std::shared_ptr<skills::log_buffer> logs;
  /// Where stage latencies go (null: a new registry on the global bus).
  /// `start` adds the pipeline's metrics to it.
  std::shared_ptr<telemetry::metric_registry> metrics;
  alert_limits limits;
  /// Seeds the simulated service times.
  uint64_t seed = 7;
};

/// A running upload pipeline inside the caller's actor system. Call
/// `skills::track_supervised_children()` before `start` so that the workers
/// carry their child ids as names.
///
/// Thread-safe except `start`/`stop` (call them from one thread).
class pipeline {
public:
  /// Spawns every actor. Errors: the supervisor's start error, or a metric
  /// that cannot be added (e.g. a second pipeline on the same registry).
  static caf::expected<std::unique_ptr<pipeline>>
  start(caf::actor_system& sys, pipeline_options opts = {});

  ~pipeline();

  pipeline(const pipeline&) = delete;
  pipeline& operator=(const pipeline&) = delete;

  /// Plants the fault of `x` (nothing for `healthy`) and marks the moment
  /// alerts measure from. Once per pipeline.
  void inject(scenario x);

  /// The scenario injected (healthy before `inject`).
  scenario injected() const noexcept;

  /// Looks at the pipeline once and returns the first limit crossed. Call it
  /// every ~100 ms: it also keeps the process table's busy and idle times
  /// fresh (they are measured between inspections).
  std::optional<alert> check();

  /// The limits of `check` as probes for alert rules (same measures, same
  /// limits, same order). The queue-depth probe inspects every actor each
  /// time, which keeps the process table fresh as `check` does.
  std::vector<alert_probe> alert_probes();

  /// Calls `check` every `interval` until an alert fires; after
  /// `schedule_after` (when set) returns a scheduled check instead, after
  /// `timeout` an alert named "timeout".
  alert watch(std::chrono::milliseconds timeout,
              std::optional<std::chrono::milliseconds> schedule_after = {},
              std::chrono::milliseconds interval = std::chrono::milliseconds{
                100});

  /// Stops producing, lifts the fault and shuts every actor down (an
  /// awaiting or blocked actor exits once its wait ends).
  void stop();

  /// The worker pool's supervisor (for `caflens::config::supervisors`).
  caf::actor supervisor() const;

  std::shared_ptr<skills::log_buffer> logs() const;

  std::shared_ptr<telemetry::metric_registry> metrics() const;

  /// Counters: produced, processed, stored, indexed, rejected, dropped.
  nlohmann::json stats() const;

  struct impl;

private:
  explicit pipeline(std::unique_ptr<impl> x);

  std::unique_ptr<impl> impl_;
};

} // namespace caflens::demo
