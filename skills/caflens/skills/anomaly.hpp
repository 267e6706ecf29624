#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caflens/skills/skill.hpp"
#include "caflens/telemetry/clock.hpp"

namespace caflens::skills {

/// When the anomaly detector may trigger an investigation. Defaults follow
/// beamlens: learn for 2 h, z > 3 three times in a row, then 15 min of
/// cooldown, at most 3 triggers per hour.
struct anomaly_options {
  std::chrono::nanoseconds learning = std::chrono::hours{2};
  double z_threshold = 3.0;
  size_t consecutive = 3;
  std::chrono::nanoseconds cooldown = std::chrono::minutes{15};
  size_t max_triggers_per_hour = 3;
  /// Fields with fewer baseline samples are not judged.
  size_t min_samples = 10;
};

/// One trigger: a snapshot field far from its baseline.
struct anomaly {
  std::string skill;
  std::string field; // dotted path in the snapshot, e.g. "total_mailbox_depth"
  double value = 0;
  double mean = 0;
  double stddev = 0;
  double z = 0;
  int64_t at_ns = 0;
};

nlohmann::json to_json(const anomaly& x);

/// Baselines of every numeric field of skill snapshots (Welford mean and
/// variance per field; arrays are skipped; cumulative counters such as
/// `cpu_seconds`, io bytes, `processed`, exits and log `counts.*` are
/// judged by their rate per second, `<field>/s`, never by their ever
/// growing value) and z-score detection with a
/// consecutive-hit rule, cooldown and a rate limit — the auto-trigger of
/// always-on mode. Anomalous values do not move the baseline.
///
/// Thread-safe.
class anomaly_detector {
public:
  explicit anomaly_detector(
    anomaly_options opts = {},
    const telemetry::clock& clk = telemetry::clock::steady());

  /// Feeds one snapshot of `skill`; returns the triggers it caused (empty
  /// while learning, cooling down or rate-limited).
  std::vector<anomaly> observe(const std::string& skill,
                               const nlohmann::json& snapshot);

  bool learning() const;

  /// Baselines as JSON: {skill: {field: {mean, stddev, samples}}}.
  nlohmann::json baselines() const;

  /// The last triggers (newest last).
  std::vector<anomaly> triggers() const;

private:
  struct field_state {
    uint64_t n = 0;
    double mean = 0;
    double m2 = 0;
    size_t hits = 0;
    // Cumulative counters are judged by their rate: the last reading.
    double prev = 0;
    int64_t prev_ns = 0;
    bool has_prev = false;
  };


  anomaly_options opts_;
  const telemetry::clock* clock_;
  int64_t start_ns_;
  int64_t cooldown_until_ns_ = 0;
  mutable std::mutex mtx_;
  std::map<std::string, std::map<std::string, field_state>> fields_;
  std::deque<int64_t> trigger_times_;
  std::deque<anomaly> triggers_;
};

/// The anomaly skill: baselines and recent triggers as a snapshot; each
/// recent trigger as a finding.
skill_ptr make_anomaly_skill(std::shared_ptr<anomaly_detector> detector);

} // namespace caflens::skills
