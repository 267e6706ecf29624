// The crashes, logs, telemetry and supervision skills: views of recorded
// history.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include "caflens/skills/builtin.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/skills_errc.hpp"
#include "caflens/telemetry/metrics.hpp"

namespace caflens::skills {

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

size_t arg_count(const std::vector<json>& args, size_t i, size_t dflt,
                 size_t max) {
  if (args.size() > i && args[i].is_number_unsigned())
    return std::min(args[i].get<size_t>(), max);
  return dflt;
}

// -- crashes ------------------------------------------------------------------

class crashes_skill final : public skill {
public:
  crashes_skill(process_table& table, detector_thresholds t)
    : table_(table), t_(t) {
  }
  std::string name() const override {
    return "crashes";
  }
  std::string title() const override {
    return "Crashes";
  }
  std::string description() const override {
    return "Exit reasons of tracked actors by kind, with first/last seen and "
           "counts; crash loops.";
  }
  std::string system_prompt() const override {
    return "You are the crashes operator of caflens. Group abnormal exits "
           "by actor kind and reason, find crash loops, and quote the exit "
           "reasons verbatim.";
  }
  json snapshot() override {
    auto now = detail::system_now_ns();
    struct group {
      uint64_t count = 0, recent = 0;
      int64_t first = 0, last = 0;
      std::map<std::string, uint64_t> reasons;
      std::vector<std::string> names;
    };
    std::map<std::string, group> kinds;
    uint64_t abnormal = 0, total = 0;
    for (auto& e : table_.exits()) {
      ++total;
      if (!e.abnormal)
        continue;
      ++abnormal;
      auto& g = kinds[e.kind];
      ++g.count;
      if (now - e.at_ns <= t_.crash_window_ms * 1'000'000)
        ++g.recent;
      if (g.first == 0)
        g.first = e.at_ns;
      g.last = e.at_ns;
      ++g.reasons[e.reason];
      if (std::find(g.names.begin(), g.names.end(), e.name) == g.names.end()
          && g.names.size() < 5)
        g.names.push_back(e.name);
    }
    json by_kind = json::array();
    for (auto& [kind, g] : kinds) {
      json reasons = json::array();
      for (auto& [r, n] : g.reasons)
        reasons.push_back({{"reason", r}, {"count", n}});
      by_kind.push_back({{"kind", kind},
                         {"count", g.count},
                         {"in_window", g.recent},
                         {"window_ms", t_.crash_window_ms},
                         {"first_seen_ago_ms", (now - g.first) / 1'000'000},
                         {"last_seen_ago_ms", (now - g.last) / 1'000'000},
                         {"reasons", reasons},
                         {"actors", g.names}});
    }
    std::sort(by_kind.begin(), by_kind.end(), [](auto& x, auto& y) {
      return x["in_window"].template get<uint64_t>()
             > y["in_window"].template get<uint64_t>();
    });
    return bound_snapshot({{"captured_at_ns", table_.now_ns()},
                           {"exits", total},
                           {"abnormal_exits", abnormal},
                           {"by_kind", by_kind}},
                          limits_.max_snapshot_bytes);
  }
  std::vector<callback> callbacks() override {
    return {{"crashes_recent",
             "crashes_recent(n) — the last n abnormal exits with reasons",
             [this](const std::vector<json>& args) -> caf::expected<json> {
               auto n = arg_count(args, 0, 10, 200);
               json r = json::array();
               auto xs = table_.exits();
               for (auto i = xs.rbegin(); i != xs.rend() && r.size() < n; ++i)
                 if (i->abnormal)
                   r.push_back({{"name", i->name},
                                {"kind", i->kind},
                                {"reason", i->reason}});
               return r;
             }}};
  }
  std::vector<finding> detect(const json& cur,
                              const std::vector<json>&) override {
    std::vector<finding> out;
    for (auto& g : cur.value("by_kind", json::array())) {
      auto n = g.value("in_window", uint64_t{0});
      if (n < t_.crash_loop_exits)
        continue;
      auto kind = g.value("kind", std::string{});
      std::string top_reason;
      uint64_t top_n = 0;
      for (auto& r : g["reasons"])
        if (r.value("count", uint64_t{0}) > top_n) {
          top_n = r.value("count", uint64_t{0});
          top_reason = r.value("reason", std::string{});
        }
      std::vector<std::string> actors;
      for (auto& a : g.value("actors", json::array()))
        actors.push_back(a.get<std::string>());
      if (actors.empty())
        actors.push_back(kind);
      out.push_back({"crash_loop",
                     n >= 2 * t_.crash_loop_exits ? severity::critical
                                                  : severity::warning,
                     "actors of kind " + kind + " exited abnormally "
                       + std::to_string(n) + " times in "
                       + std::to_string(t_.crash_window_ms / 1000)
                       + " s; most common reason: " + top_reason,
                     actors,
                     {{"kind", kind},
                      {"exits_in_window", n},
                      {"reason", top_reason}}});
    }
    return out;
  }

private:
  process_table& table_;
  detector_thresholds t_;
};

// -- logs ---------------------------------------------------------------------

json entry_json(const log_entry& e, int64_t now) {
  return {{"level", e.level},
          {"source", e.source},
          {"message", e.message},
          {"ago_ms", (now - e.at_ns) / 1'000'000}};
}

class logs_skill final : public skill {
public:
  logs_skill(std::shared_ptr<log_buffer> logs, detector_thresholds t)
    : logs_(std::move(logs)), t_(t) {
  }
  std::string name() const override {
    return "logs";
  }
  std::string title() const override {
    return "Logs";
  }
  std::string description() const override {
    return "Recent log lines: counts by level, recent errors, search, error "
           "bursts.";
  }
  std::string system_prompt() const override {
    return "You are the logs operator of caflens. Find error bursts and the "
           "sources behind them; quote messages verbatim and count them.";
  }
  json snapshot() override {
    auto now = logs_->now_ns();
    json counts = json::object();
    for (auto& [lvl, n] : logs_->counts())
      counts[lvl] = n;
    json errors = json::array();
    std::map<std::string, uint64_t> sources;
    for (auto& e : logs_->recent(limits_.max_entries, "error")) {
      errors.push_back(entry_json(e, now));
    }
    for (auto& e : logs_->recent(1000, "error"))
      if (now - e.at_ns <= t_.error_window_ms * 1'000'000)
        ++sources[e.source];
    json by_source = json::array();
    for (auto& [s, n] : sources)
      by_source.push_back({{"source", s}, {"errors_in_window", n}});
    return bound_snapshot(
      {{"captured_at_ns", now},
       {"counts", counts},
       {"errors_in_window",
        logs_->count_since("error", now - t_.error_window_ms * 1'000'000)},
       {"window_ms", t_.error_window_ms},
       {"error_sources", by_source},
       {"recent_errors", errors},
       {"dropped", logs_->dropped()}},
      limits_.max_snapshot_bytes);
  }
  std::vector<callback> callbacks() override {
    std::vector<callback> cbs;
    cbs.push_back({"logs_recent",
                   "logs_recent(n, level) — the last n lines, optionally of "
                   "one level",
                   [this](const std::vector<json>& args)
                     -> caf::expected<json> {
                     auto n = arg_count(args, 0, 20, 500);
                     auto lvl = args.size() > 1 && args[1].is_string()
                                  ? args[1].get<std::string>()
                                  : std::string{};
                     json r = json::array();
                     auto now = logs_->now_ns();
                     for (auto& e : logs_->recent(n, lvl))
                       r.push_back(entry_json(e, now));
                     return r;
                   }});
    cbs.push_back({"logs_search",
                   "logs_search(text, n) — lines containing text",
                   [this](const std::vector<json>& args)
                     -> caf::expected<json> {
                     if (args.empty() || !args[0].is_string())
                       return make_error(skills_errc::invalid_argument,
                                         "logs_search needs a text");
                     auto n = arg_count(args, 1, 20, 500);
                     json r = json::array();
                     auto now = logs_->now_ns();
                     for (auto& e :
                          logs_->search(args[0].get<std::string>(), n))
                       r.push_back(entry_json(e, now));
                     return r;
                   }});
    return cbs;
  }
  std::vector<finding> detect(const json& cur,
                              const std::vector<json>&) override {
    std::vector<finding> out;
    auto n = cur.value("errors_in_window", uint64_t{0});
    if (n < t_.error_burst)
      return out;
    std::vector<std::pair<uint64_t, std::string>> sources;
    for (auto& s : cur.value("error_sources", json::array()))
      sources.emplace_back(s.value("errors_in_window", uint64_t{0}),
                           s.value("source", std::string{}));
    std::sort(sources.rbegin(), sources.rend());
    std::vector<std::string> culprits;
    for (auto& [k, s] : sources)
      if (culprits.size() < 3)
        culprits.push_back(s);
    std::string sample;
    auto errs = cur.value("recent_errors", json::array());
    if (!errs.empty())
      sample = errs.back().value("message", std::string{});
    out.push_back({"error_burst",
                   n >= 5 * t_.error_burst ? severity::critical
                                           : severity::warning,
                   std::to_string(n) + " errors in the last "
                     + std::to_string(t_.error_window_ms / 1000) + " s"
                     + (culprits.empty() ? "" : ", most from " + culprits[0])
                     + (sample.empty() ? "" : "; latest: " + sample),
                   culprits,
                   {{"errors_in_window", n}, {"latest", sample}}});
    return out;
  }

private:
  std::shared_ptr<log_buffer> logs_;
  detector_thresholds t_;
};

// -- telemetry ----------------------------------------------------------------

// "1 minute", "15 minutes", "1 s", "30 s", "250 ms".
std::string window_text(int64_t ms) {
  if (ms >= 60'000 && ms % 60'000 == 0)
    return std::to_string(ms / 60'000)
           + (ms == 60'000 ? " minute" : " minutes");
  if (ms >= 1000 && ms % 1000 == 0)
    return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

class telemetry_skill final : public skill {
public:
  telemetry_skill(telemetry::metric_registry& metrics, detector_thresholds t)
    : metrics_(metrics), t_(t) {
  }
  std::string name() const override {
    return "telemetry";
  }
  std::string title() const override {
    return "Telemetry";
  }
  std::string description() const override {
    return "Metric windows and percentiles: counters, sums and latency "
           "distributions over a recent window and a longer baseline ("
           + window_text(t_.latency_recent_ms) + " and "
           + window_text(t_.latency_baseline_ms) + "), regressions.";
  }
  std::string system_prompt() const override {
    return "You are the telemetry operator of caflens. Compare recent "
           "percentiles (last " + window_text(t_.latency_recent_ms)
           + ") with their baseline (last "
           + window_text(t_.latency_baseline_ms)
           + "), find regressions, and name the metric, its tags and the "
             "numbers.";
  }
  json snapshot() override {
    json metrics = json::array();
    auto recent = metrics_.collect_all(recent_window());
    auto baseline = metrics_.collect_all(baseline_window());
    for (size_t i = 0; i < recent.size(); ++i) {
      auto& mv = recent[i];
      for (size_t k = 0; k < mv.series.size(); ++k) {
        auto& s = mv.series[k];
        json tags = json::object();
        for (auto& [key, v] : s.tags)
          tags[key] = v;
        json j{{"metric", mv.definition.name},
               {"kind", std::string{to_string(mv.definition.kind)}},
               {"tags", tags}};
        if (s.distribution) {
          auto& d = *s.distribution;
          j["recent"] = {{"count", d.count()},
                         {"p50", d.empty() ? 0.0 : d.quantile(0.5)},
                         {"p95", d.empty() ? 0.0 : d.quantile(0.95)},
                         {"p99", d.empty() ? 0.0 : d.quantile(0.99)}};
          if (i < baseline.size() && k < baseline[i].series.size()
              && baseline[i].series[k].distribution) {
            auto& b = *baseline[i].series[k].distribution;
            j["baseline"] = {{"count", b.count()},
                             {"p50", b.empty() ? 0.0 : b.quantile(0.5)},
                             {"p99", b.empty() ? 0.0 : b.quantile(0.99)}};
          }
        } else {
          j["value"] = s.value;
          j["updates"] = s.updates;
        }
        metrics.push_back(std::move(j));
      }
    }
    return bound_snapshot({{"captured_at_ns", detail::steady_now_ns()},
                           {"recent_window_ms", t_.latency_recent_ms},
                           {"baseline_window_ms", t_.latency_baseline_ms},
                           {"metrics", metrics}},
                          limits_.max_snapshot_bytes);
  }
  std::vector<callback> callbacks() override {
    return {{"metric_quantile",
             "metric_quantile(name, q) — quantile q of a distribution over "
             "the last " + window_text(t_.latency_recent_ms) + ", per series",
             [this](const std::vector<json>& args) -> caf::expected<json> {
               if (args.empty() || !args[0].is_string())
                 return make_error(skills_errc::invalid_argument,
                                   "metric_quantile needs a metric name");
               double q = args.size() > 1 && args[1].is_number()
                            ? args[1].get<double>()
                            : 0.99;
               auto mv = metrics_.collect(args[0].get<std::string>(),
                                          recent_window());
               if (!mv)
                 return make_error(skills_errc::not_found,
                                   "no metric " + args[0].dump());
               json r = json::array();
               for (auto& s : mv->series) {
                 json tags = json::object();
                 for (auto& [k, v] : s.tags)
                   tags[k] = v;
                 r.push_back(
                   {{"tags", tags},
                    {"value", s.distribution && !s.distribution->empty()
                                ? s.distribution->quantile(q)
                                : s.value}});
               }
               return r;
             }}};
  }
  std::vector<finding> detect(const json& cur,
                              const std::vector<json>&) override {
    std::vector<finding> out;
    for (auto& m : cur.value("metrics", json::array())) {
      if (!m.contains("recent") || !m.contains("baseline"))
        continue;
      auto& r = m["recent"];
      auto& b = m["baseline"];
      auto n = r.value("count", uint64_t{0});
      auto nb = b.value("count", uint64_t{0});
      // The baseline must hold clearly more than the recent window.
      if (n < t_.latency_min_samples || nb < 2 * n)
        continue;
      // The baseline window includes the recent one, so a regression also
      // lifts the baseline's tail; the medians stay apart.
      auto p99 = r.value("p99", 0.0), p50 = r.value("p50", 0.0);
      auto base = b.value("p50", 0.0), base99 = b.value("p99", 0.0);
      bool tail = base99 > 0 && p99 >= t_.latency_regression_ratio * base99;
      bool body = base > 0 && p50 >= t_.latency_regression_ratio * base;
      if (!tail && !body)
        continue;
      std::string tags;
      for (auto& [k, v] : m["tags"].items())
        tags += (tags.empty() ? "" : ",") + k + "=" + v.get<std::string>();
      std::vector<std::string> culprits;
      for (auto& [k, v] : m["tags"].items())
        culprits.push_back(v.get<std::string>());
      char buf[320];
      std::snprintf(buf, sizeof(buf),
                    "%s{%s} over the last %s p50 %.3g / p99 %.3g vs "
                    "p50 %.3g / p99 %.3g over the last %s (%llu samples)",
                    m.value("metric", std::string{}).c_str(), tags.c_str(),
                    window_text(t_.latency_recent_ms).c_str(), p50, p99, base,
                    base99, window_text(t_.latency_baseline_ms).c_str(),
                    (unsigned long long) n);
      out.push_back({"latency_regression", severity::warning, buf, culprits,
                     {{"metric", m.value("metric", std::string{})},
                      {"p99_recent", p99},
                      {"p99_baseline", base99},
                      {"p50_recent", p50},
                      {"p50_baseline", base},
                      {"ratio", base > 0 ? p50 / base : p99 / base99}}});
    }
    return out;
  }

private:
  std::chrono::nanoseconds recent_window() const {
    return std::chrono::milliseconds{t_.latency_recent_ms};
  }
  std::chrono::nanoseconds baseline_window() const {
    return std::chrono::milliseconds{t_.latency_baseline_ms};
  }

  telemetry::metric_registry& metrics_;
  detector_thresholds t_;
};

// -- supervision --------------------------------------------------------------

class supervision_skill final : public skill {
public:
  supervision_skill(std::function<json()> trees, detector_thresholds t)
    : trees_(std::move(trees)), t_(t) {
  }
  std::string name() const override {
    return "supervision";
  }
  std::string title() const override {
    return "Supervision";
  }
  std::string description() const override {
    return "Supervision trees: children, restarts per window, crash loops, "
           "restart intensity near its limit.";
  }
  std::string system_prompt() const override {
    return "You are the supervision operator of caflens. Read the "
           "supervision trees; find children that restart often, "
           "supervisors close to their restart intensity, and shut-down "
           "subtrees; name supervisors and children.";
  }
  json snapshot() override {
    return bound_snapshot({{"captured_at_ns", detail::steady_now_ns()},
                           {"trees", trees_ ? trees_() : json::array()}},
                          limits_.max_snapshot_bytes);
  }
  std::vector<callback> callbacks() override {
    return {{"supervision_trees", "supervision_trees() — every tree as JSON",
             [this](const std::vector<json>&) -> caf::expected<json> {
               return trees_ ? trees_() : json::array();
             }}};
  }
  // Walks the trees of caflens::supervision's `get_tree` (tree.hpp):
  // {"name", "intensity", "period_ms", "restarts_in_period", "children":
  // [{"id", "restarts", "status", "tree": {nested supervisor}?}]}.
  std::vector<finding> detect(const json& cur,
                              const std::vector<json>&) override {
    std::vector<finding> out;
    auto visit = [&](auto& self, const json& sup) -> void {
      if (!sup.is_object())
        return;
      auto name = sup.value("name", std::string{"supervisor"});
      auto intensity = sup.value("intensity", 1);
      auto restarts = sup.value("restarts_in_period", 0);
      if (restarts > 0 && restarts >= intensity) {
        std::vector<std::string> kids;
        for (auto& c : sup.value("children", json::array()))
          if (c.value("restarts", 0) > 0)
            kids.push_back(c.value("id", std::string{}));
        out.push_back({"restart_intensity_near_limit", severity::warning,
                       name + " restarted children " + std::to_string(restarts)
                         + " times within its period of "
                         + std::to_string(sup.value("period_ms", 0))
                         + " ms (intensity " + std::to_string(intensity)
                         + "; one more shuts it down)",
                       kids.empty() ? std::vector<std::string>{name} : kids,
                       {{"supervisor", name},
                        {"restarts_in_period", restarts},
                        {"intensity", intensity}}});
      }
      for (auto& c : sup.value("children", json::array())) {
        auto restarts_total = c.value("restarts", 0);
        if (restarts_total >= static_cast<int>(t_.crash_loop_exits)) {
          std::string last_reason;
          auto hist = c.value("history", json::array());
          if (!hist.empty())
            last_reason = hist.back().value("reason", std::string{});
          out.push_back({"crash_loop", severity::warning,
                         "child " + c.value("id", std::string{}) + " of "
                           + name + " restarted "
                           + std::to_string(restarts_total) + " times"
                           + (last_reason.empty()
                                ? std::string{}
                                : "; last reason: " + last_reason),
                         {c.value("id", std::string{})},
                         {{"supervisor", name},
                          {"restarts", restarts_total},
                          {"last_reason", last_reason}}});
        }
        if (c.contains("tree"))
          self(self, c["tree"]);
      }
    };
    for (auto& t : cur.value("trees", json::array()))
      visit(visit, t);
    return out;
  }

private:
  std::function<json()> trees_;
  detector_thresholds t_;
};

} // namespace

skill_ptr make_crashes_skill(process_table& table, detector_thresholds t) {
  return std::make_shared<crashes_skill>(table, t);
}

skill_ptr make_logs_skill(std::shared_ptr<log_buffer> logs,
                          detector_thresholds t) {
  return std::make_shared<logs_skill>(std::move(logs), t);
}

skill_ptr make_telemetry_skill(telemetry::metric_registry& metrics,
                               detector_thresholds t) {
  return std::make_shared<telemetry_skill>(metrics, t);
}

skill_ptr make_supervision_skill(std::function<json()> trees,
                                 detector_thresholds t) {
  return std::make_shared<supervision_skill>(std::move(trees), t);
}

} // namespace caflens::skills
