// The crashes, logs, telemetry and supervision skills: views of recorded
// history.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "caflens/skills/builtin.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/skills_errc.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/metrics.hpp"

namespace caflens::skills {

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

size_t arg_count(const std::vector<json>& args, size_t i, size_t dflt,
                 size_t max) {
  // Lua integers arrive signed: any non-negative integer counts.
  if (args.size() > i && args[i].is_number_integer()
      && args[i].get<int64_t>() >= 0)
    return std::min(static_cast<size_t>(args[i].get<int64_t>()), max);
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
  std::vector<finding_type> finding_types() const override {
    return {
      {"crash_loop", "crash_loop",
       "actors of one kind exiting abnormally again and again"}};
  }
  std::vector<std::string> keywords() const override {
    return {"crash", "restart", "exit", "down", "died", "dead", "panic",
            "abort", "flap", "supervisor"};
  }
  sample_plan plan() const override {
    // A view of recorded history: one look is enough.
    return {1, std::chrono::milliseconds{0}};
  }
  std::vector<field_doc> snapshot_fields() const override {
    return {
      {"captured_at_ns", "ns", "time of this look, steady clock (not unix)"},
      {"exits", "count", "exits kept (last 1000 by default), any reason"},
      {"abnormal_exits", "count", "crashes among the kept exits"},
      {"stopped_by_supervisor", "count",
       "kept exits stopped by their supervisor (no crash)"},
      {"by_kind", "", "crashes by actor kind, most in the window first"},
      {"by_kind[].kind", "", "actor kind"},
      {"by_kind[].count", "exits", "crashes of this kind kept"},
      {"by_kind[].in_window", "exits", "crashes within window_ms"},
      {"by_kind[].window_ms", "ms", "the window of in_window"},
      {"by_kind[].first_seen_ago_ms", "ms", "since its oldest kept crash"},
      {"by_kind[].last_seen_ago_ms", "ms", "since its latest crash"},
      {"by_kind[].reasons", "", "exit reasons in the window, else all kept"},
      {"by_kind[].reasons[].reason", "", "rendered exit reason"},
      {"by_kind[].reasons[].count", "exits", "crashes with this reason"},
      {"by_kind[].actors", "", "up to 5 actors, crashing now first"},
      {"by_kind[].actors[].name", "", "actor name"},
      {"by_kind[].actors[].in_window", "exits", "its crashes in the window"},
      {"by_kind[].actors[].exits", "exits", "its crashes kept"},
      {"by_kind[].actors[].last_seen_ago_ms", "ms", "since its latest crash"},
      {"by_kind[].distinct_actors", "actors", "actor names that crashed"},
      {"truncated", "", "lists were cut to fit the size limit"},
      {"error", "", "set when even cut lists did not fit"}};
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
  json collect_() override {
    auto now = detail::system_now_ns();
    auto window_ns = t_.crash_window_ms * 1'000'000;
    struct member {
      uint64_t count = 0, recent = 0;
      int64_t last = 0;
    };
    struct group {
      uint64_t count = 0, recent = 0;
      int64_t first = 0, last = 0;
      std::map<std::string, uint64_t> reasons, recent_reasons;
      std::map<std::string, member> names;
    };
    std::map<std::string, group> kinds;
    uint64_t abnormal = 0, total = 0, terminated = 0;
    for (auto& e : table_.exits()) {
      ++total;
      if (e.terminated)
        ++terminated;
      if (!e.abnormal)
        continue;
      ++abnormal;
      auto& g = kinds[e.kind];
      bool recent = now - e.at_ns <= window_ns;
      ++g.count;
      if (g.first == 0)
        g.first = e.at_ns;
      g.last = std::max(g.last, e.at_ns);
      ++g.reasons[e.reason];
      auto& m = g.names[e.name];
      ++m.count;
      m.last = std::max(m.last, e.at_ns);
      if (recent) {
        ++g.recent;
        ++m.recent;
        ++g.recent_reasons[e.reason];
      }
    }
    json by_kind = json::array();
    for (auto& [kind, g] : kinds) {
      // Reasons of the window when there are any: what loops now.
      auto& rs = g.recent_reasons.empty() ? g.reasons : g.recent_reasons;
      json reasons = json::array();
      for (auto& [r, n] : rs)
        reasons.push_back({{"reason", r}, {"count", n}});
      // The actors crashing now first: most exits in the window, then the
      // most recent exit.
      std::vector<std::pair<std::string, member>> ms(g.names.begin(),
                                                     g.names.end());
      std::sort(ms.begin(), ms.end(), [](auto& x, auto& y) {
        if (x.second.recent != y.second.recent)
          return x.second.recent > y.second.recent;
        return x.second.last > y.second.last;
      });
      json actors = json::array();
      for (auto& [name, m] : ms) {
        if (actors.size() >= 5)
          break;
        actors.push_back({{"name", name},
                          {"in_window", m.recent},
                          {"exits", m.count},
                          {"last_seen_ago_ms", (now - m.last) / 1'000'000}});
      }
      by_kind.push_back({{"kind", kind},
                         {"count", g.count},
                         {"in_window", g.recent},
                         {"window_ms", t_.crash_window_ms},
                         {"first_seen_ago_ms", (now - g.first) / 1'000'000},
                         {"last_seen_ago_ms", (now - g.last) / 1'000'000},
                         {"reasons", reasons},
                         {"actors", actors},
                         {"distinct_actors", g.names.size()}});
    }
    std::sort(by_kind.begin(), by_kind.end(), [](auto& x, auto& y) {
      auto nx = x["in_window"].template get<uint64_t>();
      auto ny = y["in_window"].template get<uint64_t>();
      if (nx != ny)
        return nx > ny;
      return x["last_seen_ago_ms"].template get<int64_t>()
             < y["last_seen_ago_ms"].template get<int64_t>();
    });
    return bound_snapshot({{"captured_at_ns", table_.now_ns()},
                           {"exits", total},
                           {"abnormal_exits", abnormal},
                           {"stopped_by_supervisor", terminated},
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
             },
       std::chrono::milliseconds{0},
       {sandbox::param::integer("n", 10, 0, 200)}}};
  }
  std::vector<finding> detect_(const json& cur,
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
        if (a.is_object() && a.value("in_window", uint64_t{0}) > 0)
          actors.push_back(a.value("name", std::string{}));
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
  std::vector<finding_type> finding_types() const override {
    return {
      {"error_burst", "error_burst", "error log lines in a burst"}};
  }
  std::vector<std::string> keywords() const override {
    return {"error", "exception", "fail", "log", "reject", "invalid", "warn",
            "crash", "restart", "exit", "died", "panic", "abort"};
  }
  sample_plan plan() const override {
    // A view of recorded history: one look is enough.
    return {1, std::chrono::milliseconds{0}};
  }
  std::vector<field_doc> snapshot_fields() const override {
    return {
      {"captured_at_ns", "ns", "time of this look, steady clock (not unix)"},
      {"counts", "", "log lines by level since start, dropped ones too"},
      {"counts.*", "lines", "lines of this level"},
      {"errors_in_window", "lines", "error lines within window_ms still kept"},
      {"window_ms", "ms", "the window of the *_in_window counts"},
      {"error_sources", "", "error lines in the window by source"},
      {"error_sources[].source", "", "log source"},
      {"error_sources[].errors_in_window", "lines",
       "its error lines in the window (of the last 1000)"},
      {"recent_errors", "", "the last error lines, newest last"},
      {"recent_errors[].level", "", "log level"},
      {"recent_errors[].source", "", "log source"},
      {"recent_errors[].message", "", "the line, verbatim (redacted)"},
      {"recent_errors[].ago_ms", "ms", "since it was logged"},
      {"dropped", "lines", "lines dropped from the full buffer since start"},
      {"truncated", "", "lists were cut to fit the size limit"},
      {"error", "", "set when even cut lists did not fit"}};
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
  json collect_() override {
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
                   },
       std::chrono::milliseconds{0},
       {sandbox::param::integer("n", 20, 0, 500),
        sandbox::param::string("level", "")}});
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
                   },
       std::chrono::milliseconds{0},
       {sandbox::param::needed("text", sandbox::param_type::string),
        sandbox::param::integer("n", 20, 0, 500)}});
    return cbs;
  }
  std::vector<finding> detect_(const json& cur,
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
  std::vector<finding_type> finding_types() const override {
    return {
      {"latency_regression", "latency_regression",
       "a metric's recent percentiles far above its baseline"}};
  }
  std::vector<std::string> keywords() const override {
    return {"latency", "p9", "p5", "percentile", "slow", "timeout", "delay",
            "late", "stale", "sluggish", "degrad", "response time", "sla",
            "slo", "jitter", "fresh", "mailbox", "queue", "backlog",
            "throughput", "lag", "overload", "behind"};
  }
  sample_plan plan() const override {
    // A view of recorded history: one look is enough.
    return {1, std::chrono::milliseconds{0}};
  }
  std::vector<field_doc> snapshot_fields() const override {
    // Values and percentiles are in the unit of the metric's measurement,
    // which the snapshot does not name.
    return {
      {"captured_at_ns", "ns", "time of this look, steady clock (not unix)"},
      {"recent_window_ms", "ms", "window of metrics[].recent"},
      {"baseline_window_ms", "ms", "window of metrics[].baseline"},
      {"metrics", "", "one entry per metric series"},
      {"metrics[].metric", "", "metric name"},
      {"metrics[].kind", "", "counter, sum, last_value or distribution"},
      {"metrics[].tags", "", "the series' tag values"},
      {"metrics[].tags.*", "", "value of this tag"},
      {"metrics[].value", "metric unit",
       "counter: events; sum: total; last_value: latest"},
      {"metrics[].updates", "events", "events recorded since start"},
      {"metrics[].recent", "", "distribution over the recent window"},
      {"metrics[].recent.count", "samples", "samples in the recent window"},
      {"metrics[].recent.p50", "metric unit", "median, recent window"},
      {"metrics[].recent.p95", "metric unit", "95th percentile, recent window"},
      {"metrics[].recent.p99", "metric unit", "99th percentile, recent window"},
      {"metrics[].baseline", "", "distribution over the baseline window"},
      {"metrics[].baseline.count", "samples", "samples in the baseline window"},
      {"metrics[].baseline.p50", "metric unit", "median, baseline window"},
      {"metrics[].baseline.p95", "metric unit",
       "95th percentile, baseline window"},
      {"metrics[].baseline.p99", "metric unit",
       "99th percentile, baseline window"},
      {"truncated", "", "lists were cut to fit the size limit"},
      {"error", "", "set when even cut lists did not fit"}};
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
  json collect_() override {
    return bound_snapshot({{"captured_at_ns", detail::steady_now_ns()},
                           {"recent_window_ms", t_.latency_recent_ms},
                           {"baseline_window_ms", t_.latency_baseline_ms},
                           {"metrics", metrics_json()}},
                          limits_.max_snapshot_bytes);
  }
  // Every series with its value, or its recent and baseline quantiles.
  json metrics_json() const {
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
                             {"p95", b.empty() ? 0.0 : b.quantile(0.95)},
                             {"p99", b.empty() ? 0.0 : b.quantile(0.99)}};
          }
        } else {
          j["value"] = s.value;
          j["updates"] = s.updates;
        }
        metrics.push_back(std::move(j));
      }
    }
    return metrics;
  }
  std::vector<callback> callbacks() override {
    return {{"metrics_list",
             "metrics_list() — every metric series: value, or recent and "
             "baseline p50/p95/p99",
             [this](const std::vector<json>&) -> caf::expected<json> {
               return metrics_json();
             }},
            {"metric_quantile",
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
             },
       std::chrono::milliseconds{0},
       {sandbox::param::needed("name", sandbox::param_type::string),
        sandbox::param::number("q", 0.99, 0, 1)}}};
  }
  std::vector<finding> detect_(const json& cur,
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
      // A tail regression moves p95 too (half as far): a few outliers at
      // p99 of sub-millisecond values are noise, not a regression.
      auto p95 = r.value("p95", 0.0), base95 = b.value("p95", 0.0);
      bool tail = base99 > 0 && p99 >= t_.latency_regression_ratio * base99
                  && (base95 <= 0
                      || p95 >= (1 + (t_.latency_regression_ratio - 1) / 2)
                                  * base95);
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

/// What supervisors reported through the telemetry bus (every caflens
/// supervisor emits these, whoever spawned it and whenever): child crashes,
/// children stopped by their supervisor, and give-ups at the restart
/// intensity. Thread-safe; the handler runs in the supervisor's thread.
class supervision_journal {
public:
  struct entry {
    int64_t at_ns = 0; // system clock
    std::string kind;  // crash, gave_up
    std::string supervisor;
    std::string child;
    std::string reason;
    int64_t restarts = 0;
    int64_t intensity = 0;
    int64_t period_ms = 0;
  };

  supervision_journal() {
    static std::atomic<uint64_t> ids{0};
    id_ = "caflens.supervision_skill." + std::to_string(++ids);
    auto ev = [](const char* what) {
      return telemetry::event_name{"caflens", "supervisor", what};
    };
    telemetry::bus::global().attach_many(
      id_, {ev("child_exited"), ev("intensity_exceeded")},
      [this](const telemetry::event_name& e,
             const telemetry::measurements& m, const telemetry::metadata& md,
             const std::any&) { record(e, m, md); });
  }

  ~supervision_journal() {
    telemetry::bus::global().detach(id_);
  }

  std::vector<entry> entries() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return {xs_.begin(), xs_.end()};
  }

private:
  static std::string text(const telemetry::metadata& md, const char* key) {
    auto j = md.to_json();
    auto i = j.find(key);
    if (i == j.end())
      return {};
    return i->is_string() ? i->get<std::string>() : i->dump();
  }

  void record(const telemetry::event_name& e,
              const telemetry::measurements& m,
              const telemetry::metadata& md) {
    entry x;
    x.at_ns = static_cast<int64_t>(
      m.find("system_time").value_or(
        static_cast<double>(telemetry::bus::system_time())));
    x.supervisor = text(md, "supervisor");
    x.child = text(md, "child_id");
    if (e.str().find("intensity_exceeded") != std::string::npos) {
      x.kind = "gave_up";
      x.restarts = static_cast<int64_t>(m.find("restarts").value_or(0));
      x.intensity = static_cast<int64_t>(m.find("intensity").value_or(0));
      x.period_ms = static_cast<int64_t>(m.find("period_ms").value_or(0));
    } else {
      // child_exited: the child's own exit (child_terminated, a stop by
      // the supervisor, is never a crash). The reason is OTP-style text.
      x.reason = text(md, "reason");
      if (x.reason == "normal" || x.reason == "shutdown"
          || x.reason.rfind("shutdown:", 0) == 0)
        return;
      x.kind = "crash";
    }
    std::lock_guard<std::mutex> guard{mtx_};
    // The crash that was one too many arrives before the give-up: it keeps
    // its reason for the give-up.
    if (x.kind == "gave_up")
      for (auto i = xs_.rbegin(); i != xs_.rend(); ++i)
        if (i->kind == "crash" && i->supervisor == x.supervisor
            && i->child == x.child) {
          x.reason = i->reason;
          break;
        }
    xs_.push_back(std::move(x));
    while (xs_.size() > 1000)
      xs_.pop_front();
  }

  std::string id_;
  mutable std::mutex mtx_;
  std::deque<entry> xs_;
};

class supervision_skill final : public skill {
public:
  supervision_skill(std::function<json()> trees, detector_thresholds t)
    : trees_(std::move(trees)), t_(t) {
  }
  std::string name() const override {
    return "supervision";
  }
  std::vector<finding_type> finding_types() const override {
    return {
      {"crash_loop", "crash_loop",
       "a child crashing again and again within the window"},
      {"restart_intensity_exceeded", "restart_intensity",
       "a supervisor that reached its restart intensity and gave up"},
      {"restart_intensity_near_limit", "restart_intensity",
       "a supervisor one restart from giving up"}};
  }
  std::vector<std::string> keywords() const override {
    return {"crash", "restart", "supervisor", "exit", "down", "died", "flap",
            "gave up", "give up", "intensity"};
  }
  sample_plan plan() const override {
    // A view of recorded history: one look is enough.
    return {1, std::chrono::milliseconds{0}};
  }
  std::vector<field_doc> snapshot_fields() const override {
    return {
      {"captured_at_ns", "ns", "time of this look, steady clock (not unix)"},
      {"window_ms", "ms", "the window of crashes_in_window"},
      {"gave_up", "",
       "supervisors that gave up at their restart intensity lately"},
      {"gave_up[].supervisor", "", "supervisor name"},
      {"gave_up[].child", "", "child id whose crash was one too many"},
      {"gave_up[].reason", "", "that child's last crash reason"},
      {"gave_up[].restarts", "restarts", "restarts within the period"},
      {"gave_up[].intensity", "restarts", "restarts allowed per period"},
      {"gave_up[].period_ms", "ms", "the intensity's period"},
      {"gave_up[].ago_ms", "ms", "since it gave up"},
      {"crashing_children", "", "children that crashed, most recent first"},
      {"crashing_children[].supervisor", "", "supervisor name"},
      {"crashing_children[].child", "", "child id"},
      {"crashing_children[].crashes_in_window", "crashes", "within window_ms"},
      {"crashing_children[].crashes", "crashes", "all reported (last 1000)"},
      {"crashing_children[].last_reason", "", "its latest crash reason"},
      {"crashing_children[].last_ago_ms", "ms", "since its latest crash"},
      {"trees", "", "supervision trees (get_tree), root first"},
      {"trees[].name", "", "supervisor name"},
      {"trees[].actor", "", "supervisor's actor id"},
      {"trees[].strategy", "", "restart strategy, e.g. one_for_one"},
      {"trees[].intensity", "restarts", "restarts allowed per period"},
      {"trees[].period_ms", "ms", "the intensity's period"},
      {"trees[].restart_window", "",
       "seconds (OTP: whole-second stamps) or milliseconds"},
      {"trees[].auto_shutdown", "", "never, any_significant, all_significant"},
      {"trees[].state", "", "starting, running, busy or stopping"},
      {"trees[].restarts_in_period", "restarts", "restarts within period_ms"},
      {"trees[].uptime_ms", "ms", "since the supervisor started"},
      {"trees[].children", "", "its children"},
      {"trees[].children[].id", "", "child id"},
      {"trees[].children[].actor", "", "actor id, 0 when not running"},
      {"trees[].children[].status", "", "running, restarting or stopped"},
      {"trees[].children[].type", "", "worker or supervisor"},
      {"trees[].children[].restart", "", "permanent, transient or temporary"},
      {"trees[].children[].shutdown", "",
       "ms to wait as text, brutal_kill or infinity"},
      {"trees[].children[].significant", "",
       "its exit may shut the supervisor down (auto_shutdown)"},
      {"trees[].children[].restarts", "restarts", "since the supervisor started"},
      {"trees[].children[].history", "", "its last 8 restarts"},
      {"trees[].children[].history[].at_ms", "ms", "supervisor uptime then"},
      {"trees[].children[].history[].reason", "", "why it restarted"},
      {"trees[].children[].tree", "", "nested supervisor, fields as trees[]"},
      {"trees[].children[].tree_error", "", "why its tree is missing"},
      {"truncated", "", "lists were cut to fit the size limit"},
      {"error", "", "set when even cut lists did not fit"}};
  }
  std::string title() const override {
    return "Supervision";
  }
  std::string description() const override {
    return "Supervision trees and what every supervisor reported: child "
           "crashes per window, crash loops, restart intensity near its "
           "limit, supervisors that gave up.";
  }
  std::string system_prompt() const override {
    return "You are the supervision operator of caflens. Read the "
           "supervision trees and the supervisors' reports; find children "
           "that crash and restart often (within the window), supervisors "
           "close to their restart intensity, and supervisors that reached "
           "it and gave up (shut down with their children); name "
           "supervisors and children.";
  }
  json collect_() override {
    auto now = telemetry::bus::system_time();
    auto window_ns = t_.crash_window_ms * 1'000'000;
    auto give_up_ns = std::max(t_.crash_window_ms, t_.give_up_window_ms)
                      * 1'000'000;
    struct child_stats {
      uint64_t recent = 0, total = 0;
      int64_t last = 0;
      std::string last_reason;
    };
    std::map<std::pair<std::string, std::string>, child_stats> crashes;
    json gave_up = json::array();
    for (auto& e : journal_.entries()) {
      if (e.kind == "crash") {
        auto& c = crashes[{e.supervisor, e.child}];
        ++c.total;
        if (now - e.at_ns <= window_ns)
          ++c.recent;
        c.last = std::max(c.last, e.at_ns);
        c.last_reason = e.reason;
      } else if (e.kind == "gave_up" && now - e.at_ns <= give_up_ns) {
        gave_up.push_back({{"supervisor", e.supervisor},
                           {"child", e.child},
                           {"reason", e.reason},
                           {"restarts", e.restarts},
                           {"intensity", e.intensity},
                           {"period_ms", e.period_ms},
                           {"ago_ms", (now - e.at_ns) / 1'000'000}});
      }
    }
    std::vector<std::pair<std::pair<std::string, std::string>, child_stats>>
      cs(crashes.begin(), crashes.end());
    std::sort(cs.begin(), cs.end(), [](auto& x, auto& y) {
      if (x.second.recent != y.second.recent)
        return x.second.recent > y.second.recent;
      return x.second.last > y.second.last;
    });
    json crashing = json::array();
    for (auto& [key, c] : cs)
      crashing.push_back({{"supervisor", key.first},
                          {"child", key.second},
                          {"crashes_in_window", c.recent},
                          {"crashes", c.total},
                          {"last_reason", c.last_reason},
                          {"last_ago_ms", (now - c.last) / 1'000'000}});
    return bound_snapshot({{"captured_at_ns", detail::steady_now_ns()},
                           {"window_ms", t_.crash_window_ms},
                           {"gave_up", gave_up},
                           {"crashing_children", crashing},
                           {"trees", trees_ ? trees_() : json::array()}},
                          limits_.max_snapshot_bytes);
  }
  std::vector<callback> callbacks() override {
    return {{"supervision_trees", "supervision_trees() — every tree as JSON",
             [this](const std::vector<json>&) -> caf::expected<json> {
               return trees_ ? trees_() : json::array();
             }},
            {"supervision_status",
             "supervision_status() — crashing children, supervisors that "
             "gave up, and every tree (this skill's look, without keeping "
             "it)",
             [this](const std::vector<json>&) -> caf::expected<json> {
               return snapshot();
             }}};
  }
  // Reads the supervisors' reports (crashing_children, gave_up) and walks
  // the trees of caflens::supervision's `get_tree` (tree.hpp):
  // {"name", "intensity", "period_ms", "restarts_in_period", "uptime_ms",
  // "children": [{"id", "restarts", "history": [{"at_ms", "reason"}],
  // "tree": {nested supervisor}?}]}.
  std::vector<finding> detect_(const json& cur,
                              const std::vector<json>&) override {
    std::vector<finding> out;
    std::set<std::pair<std::string, std::string>> looping;
    for (auto& g : cur.value("gave_up", json::array())) {
      auto sup = g.value("supervisor", std::string{});
      auto child = g.value("child", std::string{});
      auto reason = g.value("reason", std::string{});
      auto restarts = g.value("restarts", int64_t{0});
      out.push_back(
        {"restart_intensity_exceeded", severity::critical,
         "supervisor " + sup + " gave up " + std::to_string(
           g.value("ago_ms", int64_t{0}) / 1000)
           + " s ago: child " + child + " crashed"
           + (reason.empty() ? std::string{} : " (" + reason + ")")
           + " for restart " + std::to_string(restarts) + " within "
           + std::to_string(g.value("period_ms", int64_t{0})) + " ms "
           + "(intensity " + std::to_string(g.value("intensity", 0))
           + "), so " + sup + " shut down with all its children",
         {child, sup},
         {{"supervisor", sup},
          {"child", child},
          {"reason", reason},
          {"restarts", restarts},
          {"intensity", g.value("intensity", 0)},
          {"period_ms", g.value("period_ms", 0)}}});
    }
    auto loop_finding = [&](const std::string& sup, const std::string& child,
                            uint64_t n, const std::string& reason) {
      if (!looping.emplace(sup, child).second)
        return;
      out.push_back({"crash_loop",
                     n >= 2 * t_.crash_loop_exits ? severity::critical
                                                  : severity::warning,
                     "child " + child + " of " + sup + " crashed "
                       + std::to_string(n) + " times in the last "
                       + std::to_string(t_.crash_window_ms / 1000) + " s"
                       + (reason.empty() ? std::string{}
                                         : "; last reason: " + reason),
                     {child},
                     {{"supervisor", sup},
                      {"exits_in_window", n},
                      {"last_reason", reason}}});
    };
    for (auto& c : cur.value("crashing_children", json::array())) {
      auto n = c.value("crashes_in_window", uint64_t{0});
      if (n >= t_.crash_loop_exits)
        loop_finding(c.value("supervisor", std::string{}),
                     c.value("child", std::string{}), n,
                     c.value("last_reason", std::string{}));
    }
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
      // Restarts within the window (the history's times are the
      // supervisor's uptime), not over the supervisor's lifetime.
      auto uptime = sup.value("uptime_ms", int64_t{-1});
      for (auto& c : sup.value("children", json::array())) {
        auto hist = c.value("history", json::array());
        uint64_t recent = 0;
        std::string last_reason;
        for (auto& h : hist) {
          if (uptime >= 0
              && uptime - h.value("at_ms", int64_t{0}) > t_.crash_window_ms)
            continue;
          ++recent;
          last_reason = h.value("reason", std::string{});
        }
        if (uptime >= 0 && recent >= t_.crash_loop_exits)
          loop_finding(name, c.value("id", std::string{}), recent,
                       last_reason);
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
  supervision_journal journal_;
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
