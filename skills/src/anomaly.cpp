#include "caflens/skills/anomaly.hpp"

#include <cmath>
#include <functional>

namespace caflens::skills {

using nlohmann::json;

json to_json(const anomaly& x) {
  return {{"skill", x.skill}, {"field", x.field}, {"value", x.value},
          {"mean", x.mean},   {"stddev", x.stddev}, {"z", x.z}};
}

anomaly_detector::anomaly_detector(anomaly_options opts,
                                   const telemetry::clock& clk)
  : opts_(opts), clock_(&clk), start_ns_(clk.now_ns()) {
}

bool anomaly_detector::learning() const {
  return clock_->now_ns() - start_ns_ < opts_.learning.count();
}

namespace {

// Calls fn(path, value) for every number outside arrays.
void flatten(const json& j, const std::string& prefix,
             const std::function<void(const std::string&, double)>& fn) {
  if (j.is_object()) {
    for (auto& [k, v] : j.items())
      if (k != "captured_at_ns")
        flatten(v, prefix.empty() ? k : prefix + "." + k, fn);
  } else if (j.is_number()) {
    fn(prefix, j.get<double>());
  }
}

// Fields that count since start (their last path component).
bool is_counter(const std::string& path) {
  auto dot = path.rfind('.');
  auto leaf = dot == std::string::npos ? path : path.substr(dot + 1);
  static const char* names[] = {
    "cpu_seconds", "read_bytes",    "write_bytes", "processed",
    "enqueued",    "exits",         "abnormal_exits",
    "stopped_by_supervisor",        "dropped",     "updates",
    "errors_total"};
  for (auto* n : names)
    if (leaf == n)
      return true;
  // The logs skill's counts by level since start.
  return path.rfind("counts.", 0) == 0;
}

} // namespace

std::vector<anomaly> anomaly_detector::observe(const std::string& skill,
                                               const json& snapshot) {
  auto now = clock_->now_ns();
  std::lock_guard<std::mutex> guard{mtx_};
  bool is_learning = now - start_ns_ < opts_.learning.count();
  auto& fields = fields_[skill];
  std::vector<anomaly> candidates;
  flatten(snapshot, "", [&](const std::string& raw_path, double v) {
    std::string path = raw_path;
    if (is_counter(raw_path)) {
      // A counter since start grows forever: judge how fast it grows.
      auto& c = fields[raw_path];
      bool first = !c.has_prev;
      double prev = c.prev;
      int64_t prev_ns = c.prev_ns;
      c.prev = v;
      c.prev_ns = now;
      c.has_prev = true;
      if (first || now <= prev_ns || v < prev)
        return; // no rate yet, or the counter was reset
      v = (v - prev) / ((now - prev_ns) / 1e9);
      path = raw_path + "/s";
    }
    auto& f = fields[path];
    auto update = [&] {
      ++f.n;
      double d = v - f.mean;
      f.mean += d / static_cast<double>(f.n);
      f.m2 += d * (v - f.mean);
    };
    if (is_learning || f.n < opts_.min_samples) {
      update();
      return;
    }
    double sd = std::sqrt(f.m2 / static_cast<double>(f.n));
    // A constant baseline: any change counts, scaled by its magnitude.
    double floor = 1e-9 * std::max(1.0, std::fabs(f.mean));
    double z = (v - f.mean) / std::max(sd, floor);
    if (std::fabs(z) > opts_.z_threshold) {
      if (++f.hits >= opts_.consecutive) {
        candidates.push_back({skill, path, v, f.mean, sd, z, now});
        f.hits = 0;
      }
    } else {
      f.hits = 0;
      update();
    }
  });
  std::vector<anomaly> fired;
  if (candidates.empty() || now < cooldown_until_ns_)
    return fired;
  constexpr int64_t hour = 3'600'000'000'000;
  while (!trigger_times_.empty() && now - trigger_times_.front() >= hour)
    trigger_times_.pop_front();
  if (trigger_times_.size() >= opts_.max_triggers_per_hour)
    return fired;
  // One trigger per observation: the strongest deviation names it.
  auto best = std::max_element(candidates.begin(), candidates.end(),
                               [](auto& x, auto& y) {
                                 return std::fabs(x.z) < std::fabs(y.z);
                               });
  fired.push_back(*best);
  trigger_times_.push_back(now);
  cooldown_until_ns_ = now + opts_.cooldown.count();
  triggers_.push_back(*best);
  while (triggers_.size() > 100)
    triggers_.pop_front();
  return fired;
}

json anomaly_detector::baselines() const {
  std::lock_guard<std::mutex> guard{mtx_};
  json r = json::object();
  for (auto& [skill, fields] : fields_)
    for (auto& [path, f] : fields)
      r[skill][path] = {{"mean", f.mean},
                        {"stddev", f.n ? std::sqrt(f.m2 / f.n) : 0.0},
                        {"samples", f.n}};
  return r;
}

std::vector<anomaly> anomaly_detector::triggers() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return {triggers_.begin(), triggers_.end()};
}

namespace {

class anomaly_skill final : public skill {
public:
  explicit anomaly_skill(std::shared_ptr<anomaly_detector> d)
    : d_(std::move(d)) {
  }
  std::string name() const override {
    return "anomaly";
  }
  std::vector<finding_type> finding_types() const override {
    return {
      {"anomaly", "anomaly", "a metric far from its learned baseline"}};
  }
  std::vector<field_doc> snapshot_fields() const override {
    // Field paths are dotted snapshot paths (keys that hold dots); counters
    // since start are judged by their rate, "<path>/s".
    return {
      {"learning", "", "still learning baselines (no triggers yet)"},
      {"triggers", "", "the last triggers (<=100), newest last"},
      {"triggers[].skill", "", "skill whose snapshot field deviated"},
      {"triggers[].field", "",
       "its snapshot path; \"<path>/s\" = a counter's rate"},
      {"triggers[].value", "field unit", "the value that deviated"},
      {"triggers[].mean", "field unit", "baseline mean"},
      {"triggers[].stddev", "field unit", "baseline standard deviation"},
      {"triggers[].z", "stddevs", "(value - mean) / stddev"},
      {"baselines", "", "learned baselines by skill, then by field path"},
      {"baselines.*", "", "one skill"},
      {"baselines.*.*", "", "one numeric field (arrays skipped)"},
      {"baselines.*.*.mean", "field unit", "mean of the normal values"},
      {"baselines.*.*.stddev", "field unit", "their standard deviation"},
      {"baselines.*.*.samples", "count", "values learned"},
      {"truncated", "", "lists were cut to fit the size limit"},
      {"error", "", "set when even cut lists did not fit"}};
  }
  std::vector<std::string> keywords() const override {
    return {"anomaly", "baseline", "unusual"};
  }
  std::string title() const override {
    return "Anomalies";
  }
  std::string description() const override {
    return "Learned baselines of every numeric snapshot field and the "
           "fields that left them (z-score).";
  }
  std::string system_prompt() const override {
    return "You are the anomaly operator of caflens. Explain which fields "
           "left their learned baselines, by how many standard deviations, "
           "and what that suggests.";
  }
  json collect_() override {
    json recent = json::array();
    for (auto& a : d_->triggers())
      recent.push_back(to_json(a));
    return bound_snapshot({{"learning", d_->learning()},
                           {"triggers", recent},
                           {"baselines", d_->baselines()}},
                          limits_.max_snapshot_bytes);
  }
  std::vector<callback> callbacks() override {
    return {{"anomaly_baselines",
             "anomaly_baselines() — mean and stddev of every field",
             [this](const std::vector<json>&) -> caf::expected<json> {
               return d_->baselines();
             }}};
  }
  std::vector<finding> detect_(const json& cur,
                              const std::vector<json>&) override {
    std::vector<finding> out;
    for (auto& t : cur.value("triggers", json::array())) {
      char buf[200];
      std::snprintf(buf, sizeof(buf),
                    "%s.%s = %.4g, %.1f standard deviations from its "
                    "baseline %.4g",
                    t.value("skill", std::string{}).c_str(),
                    t.value("field", std::string{}).c_str(),
                    t.value("value", 0.0), t.value("z", 0.0),
                    t.value("mean", 0.0));
      out.push_back({"anomaly", severity::warning, buf, {}, t});
    }
    return out;
  }

private:
  std::shared_ptr<anomaly_detector> d_;
};

} // namespace

skill_ptr make_anomaly_skill(std::shared_ptr<anomaly_detector> detector) {
  return std::make_shared<anomaly_skill>(std::move(detector));
}

} // namespace caflens::skills
