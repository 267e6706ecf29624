#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/expected.hpp"
#include "caf/fwd.hpp"

#include "caflens/sinks/prometheus.hpp"
#include "caflens/sinks/sink.hpp"
#include "caflens/telemetry/metrics.hpp"

namespace caflens::sinks {

/// Where and how to send OTLP/HTTP with the JSON encoding.
struct otlp_options {
  /// The collector's base URL; requests go to <endpoint>/v1/metrics and
  /// <endpoint>/v1/traces.
  std::string endpoint = "http://127.0.0.1:4318";
  /// The resource's service.name (and service.instance.id when set).
  std::string service_name = "caflens";
  std::string service_instance;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout{5000};
  /// Metrics push interval of `spawn_otlp_metrics_pusher`.
  std::chrono::milliseconds interval{10'000};
  /// Quantiles of summaries.
  prometheus_format format;
};

/// ExportMetricsServiceRequest (OTLP JSON) of the registry at `now_ns`:
/// counters and sums as monotonic cumulative sums, last values as gauges,
/// distributions as summaries (all-time count and sum, quantiles over the
/// format's window); tags become attributes.
nlohmann::json otlp_metrics(const telemetry::metric_registry& reg,
                            const otlp_options& opts, int64_t start_ns,
                            int64_t now_ns);

/// POSTs a JSON body to <endpoint><path>. Errors: `invalid_options`,
/// `network_error` (with the collector's answer).
caf::error otlp_post(const otlp_options& opts, const std::string& path,
                     const nlohmann::json& body);

/// An actor that pushes the registry's metrics every `interval` and once
/// more when it terminates; answers `flush_atom` (push now) with `ok_atom`.
caf::expected<caf::actor>
spawn_otlp_metrics_pusher(caf::actor_system& sys,
                          std::shared_ptr<const telemetry::metric_registry> reg,
                          otlp_options opts);

/// Investigations as OTLP traces: the investigation is the root span (trace
/// id = the caflens trace id), every operator run and every tool and model
/// call a child span. A sink: spans go out in batches, one request each.
class otlp_trace_sink final : public sink {
public:
  /// Errors: `invalid_options` (an endpoint that is not http(s)).
  static caf::expected<std::shared_ptr<otlp_trace_sink>>
  open(sink_options sopts, otlp_options opts);

  /// The spans one batch makes (OTLP JSON Span objects), in order; spans
  /// still open (an investigation without its stop yet) wait.
  std::vector<nlohmann::json> spans(const batch& xs);

  /// The ExportTraceServiceRequest for `spans`.
  nlohmann::json request(std::vector<nlohmann::json> spans) const;

  /// The span id caflens gives the investigation `trace_id` (16 hex).
  static std::string root_span_id(const std::string& trace_id);

protected:
  caf::error export_(const batch& xs) override;

private:
  otlp_trace_sink(sink_options sopts, otlp_options opts);

  otlp_options opts_;
  /// trace id → investigation start (ns) and reason.
  std::map<std::string, std::pair<int64_t, std::string>> open_;
  /// trace/operator id → start (ns).
  std::map<std::string, int64_t> operators_;
};

sink_factory otlp_trace_sink_factory(sink_options sopts, otlp_options opts);

} // namespace caflens::sinks
