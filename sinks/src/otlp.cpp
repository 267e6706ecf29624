#include "caflens/sinks/otlp.hpp"

#include <cmath>
#include <cstdio>

#include <httplib.h>

#include "http_util.hpp"

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"

#include "caflens/sinks/sinks_errc.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/trace_id.hpp"

namespace caflens::sinks {

namespace {

using json = nlohmann::json;
using telemetry::metric_kind;

/// OTLP JSON: 64-bit integers are decimal strings.
std::string u64(int64_t x) {
  return std::to_string(x < 0 ? 0 : x);
}

json attr(const std::string& key, const json& v) {
  json value;
  if (v.is_boolean())
    value = {{"boolValue", v.get<bool>()}};
  else if (v.is_number_integer())
    value = {{"intValue", std::to_string(v.get<int64_t>())}};
  else if (v.is_number())
    value = {{"doubleValue", v.get<double>()}};
  else if (v.is_string())
    value = {{"stringValue", v.get<std::string>()}};
  else
    value = {{"stringValue", v.dump()}};
  return {{"key", key}, {"value", value}};
}

json resource(const otlp_options& opts) {
  json attrs = json::array({attr("service.name", opts.service_name)});
  if (!opts.service_instance.empty())
    attrs.push_back(attr("service.instance.id", opts.service_instance));
  attrs.push_back(attr("telemetry.sdk.name", "caflens"));
  attrs.push_back(attr("telemetry.sdk.language", "cpp"));
  return {{"attributes", attrs}};
}

json scope() {
  return {{"name", "caflens"}, {"version", "0.1.0"}};
}

json series_attrs(const telemetry::series_value& s) {
  json xs = json::array();
  for (auto& [k, v] : s.tags)
    xs.push_back(attr(k, v));
  return xs;
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (auto c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h == 0 ? 1 : h;
}

std::string hex16(uint64_t x) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(x));
  return buf;
}

std::string meta_str(const json& md, const char* key) {
  auto i = md.find(key);
  if (i == md.end() || i->is_null())
    return {};
  return i->is_string() ? i->get<std::string>() : i->dump();
}

} // namespace

json otlp_metrics(const telemetry::metric_registry& reg,
                  const otlp_options& opts, int64_t start_ns, int64_t now_ns) {
  auto all = reg.collect_all();
  std::vector<telemetry::metric_value> win;
  if (opts.format.quantile_window.count() > 0)
    win = reg.collect_all(opts.format.quantile_window);
  json metrics = json::array();
  for (size_t mi = 0; mi < all.size(); ++mi) {
    auto& mv = all[mi];
    auto& def = mv.definition;
    json m{{"name", def.name},
           {"description", def.description},
           {"unit", def.unit}};
    json points = json::array();
    for (size_t si = 0; si < mv.series.size(); ++si) {
      auto& s = mv.series[si];
      json p{{"attributes", series_attrs(s)},
             {"startTimeUnixNano", u64(start_ns)},
             {"timeUnixNano", u64(now_ns)}};
      if (def.kind == metric_kind::distribution) {
        const telemetry::ddsketch* sk = s.distribution ? &*s.distribution
                                                       : nullptr;
        if (mi < win.size() && win[mi].definition.name == def.name)
          for (auto& ws : win[mi].series)
            if (ws.tags == s.tags && ws.distribution)
              sk = &*ws.distribution;
        p["count"] = u64(static_cast<int64_t>(s.updates));
        p["sum"] = s.value;
        json qs = json::array();
        if (sk != nullptr && !sk->empty())
          for (auto q : opts.format.quantiles)
            qs.push_back({{"quantile", q}, {"value", sk->quantile(q)}});
        p["quantileValues"] = qs;
      } else {
        p["asDouble"] = s.value;
      }
      points.push_back(std::move(p));
    }
    switch (def.kind) {
      case metric_kind::counter:
      case metric_kind::sum:
        // 2: AGGREGATION_TEMPORALITY_CUMULATIVE.
        m["sum"] = {{"dataPoints", points},
                    {"aggregationTemporality", 2},
                    {"isMonotonic", def.kind == metric_kind::counter}};
        break;
      case metric_kind::last_value:
        m["gauge"] = {{"dataPoints", points}};
        break;
      case metric_kind::distribution:
        m["summary"] = {{"dataPoints", points}};
        break;
    }
    metrics.push_back(std::move(m));
  }
  return {{"resourceMetrics",
           json::array({{{"resource", resource(opts)},
                         {"scopeMetrics",
                          json::array({{{"scope", scope()},
                                        {"metrics", metrics}}})}}})}};
}

caf::error otlp_post(const otlp_options& opts, const std::string& path,
                     const json& body) {
  std::string base;
  std::string prefix;
  if (!detail::split_url(opts.endpoint, base, prefix))
    return make_error(sinks_errc::invalid_options,
                      "otlp: not an http(s) endpoint: '" + opts.endpoint
                        + "'");
  httplib::Client cli{base};
  detail::set_timeouts(cli, opts.timeout);
  httplib::Headers headers;
  for (auto& [k, v] : opts.headers)
    headers.emplace(k, v);
  auto full = prefix + path;
  auto res = cli.Post(full.c_str(), headers,
                      body.dump(-1, ' ', false,
                                json::error_handler_t::replace),
                      "application/json");
  if (!res)
    return make_error(sinks_errc::network_error,
                      "otlp " + base + full + ": "
                        + httplib::to_string(res.error()));
  if (res->status < 200 || res->status >= 300)
    return make_error(sinks_errc::network_error,
                      "otlp " + base + full + " answered "
                        + std::to_string(res->status) + ": " + res->body);
  return {};
}

namespace {

using otlp_push_atom = caf::atom_constant<caf::atom("otlppush")>;

caf::error push_metrics(const telemetry::metric_registry& reg,
                        const otlp_options& opts, int64_t start_ns) {
  auto start = telemetry::bus::monotonic_time();
  auto err = otlp_post(opts, "/v1/metrics",
                       otlp_metrics(reg, opts, start_ns,
                                    telemetry::bus::system_time()));
  if (err)
    detail::emit_export_failure("otlp_metrics", start, err);
  return err;
}

} // namespace

caf::expected<caf::actor>
spawn_otlp_metrics_pusher(caf::actor_system& sys,
                          std::shared_ptr<const telemetry::metric_registry> reg,
                          otlp_options opts) {
  std::string base;
  std::string prefix;
  if (!reg || !detail::split_url(opts.endpoint, base, prefix))
    return make_error(sinks_errc::invalid_options,
                      "otlp: needs a registry and an http(s) endpoint, got '"
                        + opts.endpoint + "'");
  auto start_ns = telemetry::bus::system_time();
  return sys.spawn([reg, opts, start_ns](caf::event_based_actor* self)
                     -> caf::behavior {
    self->attach_functor(
      [reg, opts, start_ns](const caf::error&) {
        push_metrics(*reg, opts, start_ns);
      });
    self->delayed_send(self, opts.interval, otlp_push_atom::value);
    return {
      [=](otlp_push_atom) {
        push_metrics(*reg, opts, start_ns);
        self->delayed_send(self, opts.interval, otlp_push_atom::value);
      },
      [=](caf::flush_atom) -> caf::result<caf::ok_atom> {
        if (auto err = push_metrics(*reg, opts, start_ns))
          return err;
        return caf::ok_atom::value;
      },
    };
  });
}

// -- traces -------------------------------------------------------------------

otlp_trace_sink::otlp_trace_sink(sink_options sopts, otlp_options opts)
  : sink(std::move(sopts)), opts_(std::move(opts)) {
}

caf::expected<std::shared_ptr<otlp_trace_sink>>
otlp_trace_sink::open(sink_options sopts, otlp_options opts) {
  std::string base;
  std::string prefix;
  if (!detail::split_url(opts.endpoint, base, prefix))
    return make_error(sinks_errc::invalid_options,
                      "otlp: not an http(s) endpoint: '" + opts.endpoint
                        + "'");
  if (sopts.name.empty())
    sopts.name = "otlp_traces";
  if (sopts.events.empty()) {
    using telemetry::event_name;
    sopts.events = {event_name{"caflens", "investigation", "start"},
                    event_name{"caflens", "investigation", "stop"},
                    event_name{"caflens", "investigation", "exception"},
                    event_name{"caflens", "operator", "started"},
                    event_name{"caflens", "operator", "loop_stopped"},
                    event_name{"caflens", "tool", "stop"},
                    event_name{"caflens", "tool", "exception"},
                    event_name{"caflens", "llm", "stop"},
                    event_name{"caflens", "llm", "exception"}};
  }
  return std::shared_ptr<otlp_trace_sink>{
    new otlp_trace_sink(std::move(sopts), std::move(opts))};
}

std::string otlp_trace_sink::root_span_id(const std::string& trace_id) {
  return hex16(fnv1a(trace_id + "/investigation"));
}

std::vector<json> otlp_trace_sink::spans(const batch& xs) {
  std::vector<json> out;
  for (auto& x : xs) {
    auto trace = meta_str(x.metadata, "trace_id");
    if (!telemetry::is_trace_id(trace))
      continue;
    auto end = x.system_time_ns;
    auto measured = [&](const char* key) {
      auto p = x.measurement(key);
      return p != nullptr ? *p : 0.0;
    };
    auto started_at = [&] {
      auto d = static_cast<int64_t>(measured("duration"));
      return end - d;
    };
    auto span = [&](std::string name, std::string id, int64_t start,
                    bool error, const std::string& message) {
      json s{{"traceId", trace},
             {"spanId", std::move(id)},
             {"parentSpanId", root_span_id(trace)},
             {"name", std::move(name)},
             {"kind", 1}, // SPAN_KIND_INTERNAL
             {"startTimeUnixNano", u64(start)},
             {"endTimeUnixNano", u64(std::max(end, start))},
             {"attributes", json::array()},
             {"status", error ? json{{"code", 2}, {"message", message}}
                              : json{{"code", 1}}}};
      return s;
    };
    auto unique_id = [&](const std::string& what) {
      return hex16(fnv1a(trace + "/" + what + "/" + std::to_string(end) + "/"
                         + std::to_string(out.size())));
    };
    auto& ev = x.event;
    if (ev == "caflens.investigation.start") {
      auto st = measured("system_time");
      open_[trace] = {st > 0 ? static_cast<int64_t>(st) : end,
                      meta_str(x.metadata, "reason")};
      continue;
    }
    if (ev == "caflens.investigation.stop"
        || ev == "caflens.investigation.exception") {
      auto it = open_.find(trace);
      auto start = it != open_.end() ? it->second.first : started_at();
      auto reason = it != open_.end() ? it->second.second : std::string{};
      if (it != open_.end())
        open_.erase(it);
      bool error = ev == "caflens.investigation.exception";
      auto s = span("investigation", root_span_id(trace), start, error,
                    meta_str(x.metadata, "reason"));
      s["parentSpanId"] = "";
      s["kind"] = 2; // SPAN_KIND_SERVER: the root of the trace
      auto& a = s["attributes"];
      if (!reason.empty())
        a.push_back(attr("caflens.reason", reason));
      a.push_back(attr("caflens.trace_id", trace));
      if (!error) {
        a.push_back(attr("caflens.partial",
                         x.metadata.value("partial", false)));
        a.push_back(attr("caflens.insights",
                         static_cast<int64_t>(measured("insights"))));
        a.push_back(attr("caflens.notifications",
                         static_cast<int64_t>(measured("notifications"))));
      }
      // Operators still open when the investigation ends end with it.
      for (auto i = operators_.begin(); i != operators_.end();)
        i = i->first.rfind(trace + "/", 0) == 0 ? operators_.erase(i)
                                                : std::next(i);
      out.push_back(std::move(s));
      continue;
    }
    if (ev == "caflens.operator.started") {
      operators_[trace + "/" + meta_str(x.metadata, "operator")] = end;
      continue;
    }
    if (ev == "caflens.operator.loop_stopped") {
      auto key = trace + "/" + meta_str(x.metadata, "operator");
      auto it = operators_.find(key);
      auto start = it != operators_.end() ? it->second : end;
      if (it != operators_.end())
        operators_.erase(it);
      auto skill = meta_str(x.metadata, "skill");
      auto s = span("operator " + skill, unique_id("operator"), start, false,
                    {});
      auto& a = s["attributes"];
      a.push_back(attr("caflens.skill", skill));
      a.push_back(attr("caflens.operator", meta_str(x.metadata, "operator")));
      a.push_back(attr("caflens.node", meta_str(x.metadata, "node")));
      a.push_back(attr("caflens.final_state",
                       meta_str(x.metadata, "final_state")));
      out.push_back(std::move(s));
      continue;
    }
    if (ev == "caflens.tool.stop" || ev == "caflens.tool.exception") {
      auto tool = meta_str(x.metadata, "tool_name");
      bool error = ev == "caflens.tool.exception"
                   || meta_str(x.metadata, "result") == "error";
      auto s = span("tool " + tool, unique_id("tool"), started_at(), error,
                    meta_str(x.metadata, "reason"));
      auto& a = s["attributes"];
      a.push_back(attr("caflens.tool_name", tool));
      a.push_back(attr("caflens.intent", meta_str(x.metadata, "intent")));
      a.push_back(attr("caflens.iteration",
                       x.metadata.value("iteration", json(0))));
      out.push_back(std::move(s));
      continue;
    }
    if (ev == "caflens.llm.stop" || ev == "caflens.llm.exception") {
      auto model = meta_str(x.metadata, "model");
      bool error = ev == "caflens.llm.exception";
      auto s = span("llm " + model, unique_id("llm"), started_at(), error,
                    meta_str(x.metadata, "reason"));
      auto& a = s["attributes"];
      a.push_back(attr("gen_ai.system", meta_str(x.metadata, "provider")));
      a.push_back(attr("gen_ai.request.model", model));
      if (!error) {
        a.push_back(attr("gen_ai.usage.input_tokens",
                         static_cast<int64_t>(measured("input_tokens"))));
        a.push_back(attr("gen_ai.usage.output_tokens",
                         static_cast<int64_t>(measured("output_tokens"))));
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

json otlp_trace_sink::request(std::vector<json> spans) const {
  return {{"resourceSpans",
           json::array({{{"resource", resource(opts_)},
                         {"scopeSpans",
                          json::array({{{"scope", scope()},
                                        {"spans", std::move(spans)}}})}}})}};
}

caf::error otlp_trace_sink::export_(const batch& xs) {
  auto ss = spans(xs);
  if (ss.empty())
    return {};
  return otlp_post(opts_, "/v1/traces", request(std::move(ss)));
}

sink_factory otlp_trace_sink_factory(sink_options sopts, otlp_options opts) {
  return [sopts, opts]() -> caf::expected<sink_ptr> {
    auto s = otlp_trace_sink::open(sopts, opts);
    if (!s)
      return std::move(s.error());
    return sink_ptr{std::move(*s)};
  };
}

} // namespace caflens::sinks
