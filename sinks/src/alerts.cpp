#include "caflens/sinks/alerts.hpp"

#include <cmath>
#include <cstdio>
#include <thread>

#include <httplib.h>

#include "http_util.hpp"

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/send.hpp"

#include "caflens/sinks/sinks_errc.hpp"
#include "caflens/telemetry/bus.hpp"

namespace caflens::sinks {

std::string_view to_string(alert_kind x) noexcept {
  switch (x) {
    case alert_kind::quantile:
      return "quantile";
    case alert_kind::increase:
      return "increase";
    case alert_kind::ratio:
      return "ratio";
    case alert_kind::value:
      return "value";
    case alert_kind::probe:
      return "probe";
  }
  return "unknown";
}

namespace {

std::string number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", x);
  return buf;
}

bool matches(const telemetry::series_value& s,
             const std::vector<std::pair<std::string, std::string>>& match) {
  for (auto& [k, v] : match) {
    bool found = false;
    for (auto& [tk, tv] : s.tags)
      found |= tk == k && tv == v;
    if (!found)
      return false;
  }
  return true;
}

std::string series_text(const telemetry::series_value& s) {
  std::string out;
  for (auto& [k, v] : s.tags)
    out += (out.empty() ? "" : ",") + k + "=" + v;
  return out;
}

/// The cumulative total of the matching series (counter: count).
std::optional<double> total_of(const telemetry::metric_registry& reg,
                               const std::string& metric,
                               const alert_rule& r) {
  auto mv = reg.collect(metric);
  if (!mv)
    return std::nullopt;
  double total = 0;
  for (auto& s : mv->series)
    if (matches(s, r.match))
      total += mv->definition.kind == telemetry::metric_kind::distribution
                 ? static_cast<double>(s.updates)
                 : s.value;
  return total;
}

/// Records (now, total) and returns the growth over the window: against
/// the newest sample at least `window` old, or the oldest one kept.
double increase(std::deque<std::pair<int64_t, double>>& samples,
                int64_t now_ms, double total, int64_t window_ms) {
  samples.emplace_back(now_ms, total);
  // Keep one sample at or before the window's start.
  while (samples.size() > 2 && samples[1].first <= now_ms - window_ms)
    samples.pop_front();
  return total - samples.front().second;
}

} // namespace

nlohmann::json alert_event::to_json() const {
  return {{"rule", rule},
          {"state", fired ? "fired" : "resolved"},
          {"kind", std::string{to_string(kind)}},
          {"metric", metric},
          {"value", value},
          {"threshold", threshold},
          {"below", below},
          {"series", series},
          {"severity", severity},
          {"description", description},
          {"at_ms", at_ms},
          {"occurrences", occurrences}};
}

std::string alert_event::text() const {
  return rule + ": " + condition();
}

std::string alert_event::condition() const {
  // "shop.latency quantile = 2.31"; a probe names what it measures only
  // ("upload.queue_depth = 1041"), or is called a probe.
  std::string out = metric.empty() ? std::string{"probe"}
                    : kind == alert_kind::probe
                      ? metric
                      : metric + " " + std::string{to_string(kind)};
  out += " = " + number(value);
  out += fired ? (below ? " below " : " above ") : " back within ";
  out += number(threshold);
  if (!series.empty())
    out += " (" + series + ")";
  if (!description.empty())
    out += " — " + description;
  return out;
}

alert_engine::alert_engine(std::shared_ptr<const telemetry::metric_registry> reg,
                           std::vector<alert_rule> rules, telemetry::bus* bus)
  : reg_(std::move(reg)),
    rules_(std::move(rules)),
    states_(rules_.size()),
    bus_(bus != nullptr ? bus : &telemetry::bus::global()) {
}

caf::expected<std::shared_ptr<alert_engine>>
alert_engine::make(std::shared_ptr<const telemetry::metric_registry> reg,
                   std::vector<alert_rule> rules, telemetry::bus* bus) {
  auto bad = [](const std::string& rule, const std::string& why) {
    return make_error(sinks_errc::invalid_options,
                      "alert rule '" + rule + "': " + why);
  };
  if (!reg)
    return make_error(sinks_errc::invalid_options, "alerts: no registry");
  for (size_t i = 0; i < rules.size(); ++i) {
    auto& r = rules[i];
    if (r.name.empty())
      return bad("", "needs a name");
    for (size_t j = 0; j < i; ++j)
      if (rules[j].name == r.name)
        return bad(r.name, "the name is used twice");
    if (r.kind == alert_kind::probe) {
      if (!r.probe)
        return bad(r.name, "a probe rule needs a probe function");
    } else if (r.metric.empty()) {
      return bad(r.name, "needs a metric");
    }
    if (r.kind == alert_kind::ratio && r.denominator.empty())
      return bad(r.name, "a ratio needs a denominator metric");
    if (r.kind == alert_kind::quantile && !(r.quantile >= 0 && r.quantile <= 1))
      return bad(r.name, "the quantile must be within 0..1");
    if (r.occurrences == 0)
      return bad(r.name, "occurrences must be at least 1");
    if (r.window.count() <= 0)
      return bad(r.name, "the window must be positive");
    if (r.min_interval.count() < 0)
      return bad(r.name, "min_interval must not be negative");
  }
  return std::shared_ptr<alert_engine>{
    new alert_engine(std::move(reg), std::move(rules), bus)};
}

void alert_engine::add_handler(alert_handler fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  handlers_.push_back(std::move(fn));
}

std::optional<double> alert_engine::measure(const alert_rule& r,
                                            rule_state& st, int64_t now_ms) {
  st.series.clear();
  switch (r.kind) {
    case alert_kind::probe:
      return r.probe();
    case alert_kind::quantile: {
      auto mv = reg_->collect(r.metric, r.window);
      if (!mv)
        return std::nullopt;
      std::optional<double> worst;
      for (auto& s : mv->series) {
        if (!matches(s, r.match) || !s.distribution || s.distribution->empty())
          continue;
        auto q = s.distribution->quantile(r.quantile);
        if (!worst || (r.below ? q < *worst : q > *worst)) {
          worst = q;
          st.series = series_text(s);
        }
      }
      return worst;
    }
    case alert_kind::value: {
      auto mv = reg_->collect(r.metric);
      if (!mv)
        return std::nullopt;
      std::optional<double> worst;
      for (auto& s : mv->series) {
        if (!matches(s, r.match) || s.updates == 0)
          continue;
        if (!worst || (r.below ? s.value < *worst : s.value > *worst)) {
          worst = s.value;
          st.series = series_text(s);
        }
      }
      return worst;
    }
    case alert_kind::increase: {
      auto total = total_of(*reg_, r.metric, r);
      if (!total)
        return std::nullopt;
      return increase(st.samples, now_ms, *total, r.window.count());
    }
    case alert_kind::ratio: {
      auto num = total_of(*reg_, r.metric, r);
      auto den = total_of(*reg_, r.denominator, r);
      if (!num || !den)
        return std::nullopt;
      auto dn = increase(st.samples, now_ms, *num, r.window.count());
      auto dd = increase(st.den_samples, now_ms, *den, r.window.count());
      if (dd <= 0)
        return std::nullopt;
      return 100.0 * dn / dd;
    }
  }
  return std::nullopt;
}

std::vector<alert_event> alert_engine::evaluate(int64_t now_ms) {
  std::vector<alert_event> changes;
  std::vector<alert_handler> handlers;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    handlers = handlers_;
    for (size_t i = 0; i < rules_.size(); ++i) {
      auto& r = rules_[i];
      auto& st = states_[i];
      std::optional<double> v;
      try {
        v = measure(r, st, now_ms);
      } catch (...) {
        v = std::nullopt; // a throwing probe has no value
      }
      if (v && !std::isfinite(*v))
        v = std::nullopt;
      st.value = v;
      bool breach = v && (r.below ? *v < r.threshold : *v > r.threshold);
      st.breaches = breach ? st.breaches + 1 : 0;
      auto event = [&](bool fired) {
        alert_event e;
        e.rule = r.name;
        e.fired = fired;
        e.kind = r.kind;
        e.metric = r.metric;
        e.value = v.value_or(0);
        e.threshold = r.threshold;
        e.below = r.below;
        e.series = st.series;
        e.severity = r.severity;
        e.description = r.description;
        e.at_ms = now_ms;
        e.occurrences = st.breaches;
        return e;
      };
      if (!st.firing && breach && st.breaches >= r.occurrences) {
        if (st.last_fired_ms >= 0
            && now_ms - st.last_fired_ms < r.min_interval.count()) {
          ++st.suppressed;
          continue;
        }
        st.firing = true;
        st.last_fired_ms = now_ms;
        changes.push_back(event(true));
      } else if (st.firing && !breach) {
        st.firing = false;
        changes.push_back(event(false));
      }
    }
  }
  for (auto& e : changes) {
    auto sys_time = static_cast<double>(e.at_ms) * 1e6;
    if (e.fired)
      bus_->execute(telemetry::event_name{"caflens", "alert", "fired"},
                    {{"system_time", sys_time},
                     {"value", e.value},
                     {"threshold", e.threshold}},
                    {{"alert", e.rule},
                     {"metric", e.metric},
                     {"severity", e.severity}});
    else
      bus_->execute(telemetry::event_name{"caflens", "alert", "resolved"},
                    {{"system_time", sys_time}, {"value", e.value}},
                    {{"alert", e.rule}, {"metric", e.metric}});
    for (auto& h : handlers) {
      try {
        h(e);
      } catch (...) {
        // A handler's failure is its own; the others still run.
      }
    }
  }
  return changes;
}

nlohmann::json alert_engine::status() const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto xs = nlohmann::json::array();
  for (size_t i = 0; i < rules_.size(); ++i) {
    auto& st = states_[i];
    xs.push_back({{"rule", rules_[i].name},
                  {"firing", st.firing},
                  {"value", st.value ? nlohmann::json(*st.value)
                                     : nlohmann::json(nullptr)},
                  {"threshold", rules_[i].threshold},
                  {"breaches", st.breaches},
                  {"last_fired_ms", st.last_fired_ms},
                  {"suppressed", st.suppressed}});
  }
  return xs;
}

// -- evaluator actor ----------------------------------------------------------

namespace {

using eval_atom = caf::atom_constant<caf::atom("alrteval")>;
using post_atom = caf::atom_constant<caf::atom("alrtpost")>;

int64_t wall_ms() {
  return telemetry::bus::system_time() / 1'000'000;
}

} // namespace

caf::actor spawn_alert_evaluator(caf::actor_system& sys,
                                 std::shared_ptr<alert_engine> eng,
                                 std::chrono::milliseconds interval) {
  return sys.spawn([eng, interval](caf::event_based_actor* self)
                     -> caf::behavior {
    self->delayed_send(self, interval, eval_atom::value);
    return {
      [=](eval_atom) {
        eng->evaluate(wall_ms());
        self->delayed_send(self, interval, eval_atom::value);
      },
      [=](caf::get_atom) { return eng->status().dump(); },
      [=](caf::flush_atom) {
        eng->evaluate(wall_ms());
        return caf::ok_atom::value;
      },
    };
  });
}

// -- webhooks -----------------------------------------------------------------

caf::error post_webhook(const webhook_options& opts, const std::string& body) {
  std::string base;
  std::string path;
  if (!detail::split_url(opts.url, base, path))
    return make_error(sinks_errc::invalid_options,
                      "webhook: not an http(s) URL: '" + opts.url + "'");
  if (path.empty())
    path = "/";
  httplib::Headers headers;
  for (auto& [k, v] : opts.headers)
    headers.emplace(k, v);
  caf::error last;
  for (uint32_t attempt = 0; attempt <= opts.retries; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(opts.retry_delay);
    httplib::Client cli{base};
    detail::set_timeouts(cli, opts.timeout);
    auto res = cli.Post(path.c_str(), headers, body, "application/json");
    if (res && res->status >= 200 && res->status < 300)
      return {};
    last = make_error(sinks_errc::network_error,
                      "webhook " + base + path + ": "
                        + (res ? "answered " + std::to_string(res->status)
                               : httplib::to_string(res.error()))
                        + " after " + std::to_string(attempt + 1)
                        + " attempt(s)");
  }
  return last;
}

std::pair<alert_handler, caf::actor>
spawn_webhook(caf::actor_system& sys, webhook_options opts) {
  auto h = sys.spawn<caf::detached>(
    [opts](caf::event_based_actor*) -> caf::behavior {
      return {
        [opts](post_atom, const std::string& body) {
          auto start = telemetry::bus::monotonic_time();
          if (auto err = post_webhook(opts, body))
            detail::emit_export_failure("webhook", start, err);
        },
      };
    });
  alert_handler fn = [h](const alert_event& e) {
    caf::anon_send(h, post_atom::value, e.to_json().dump());
  };
  return {std::move(fn), h};
}

} // namespace caflens::sinks
