#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "caf/error.hpp"
#include "caf/expected.hpp"
#include "caf/fwd.hpp"

#include "caflens/telemetry/metrics.hpp"

namespace caflens::sinks {

/// How metrics become the Prometheus text exposition format (0.0.4).
struct prometheus_format {
  /// Quantiles of every distribution (a Prometheus summary).
  std::vector<double> quantiles{0.5, 0.9, 0.95, 0.99};
  /// Quantiles cover this recent window (like prometheus-cpp's summary
  /// max_age); `_sum` and `_count` are all-time, as Prometheus expects.
  /// Zero: quantiles over all time.
  std::chrono::nanoseconds quantile_window = std::chrono::seconds{60};
};

/// The Prometheus name of a caflens metric: characters outside
/// [a-zA-Z0-9_:] become '_' ("caflens.demo.latency" →
/// "caflens_demo_latency"); counters and sums end in "_total".
std::string prometheus_name(const telemetry::metric_definition& def);

/// A tag as a Prometheus label name (invalid characters become '_'; a
/// reserved "__" prefix gets "tag").
std::string prometheus_label_name(std::string_view tag);

/// The HELP text: the description, or what the metric aggregates, and the
/// unit in parentheses.
std::string prometheus_help(const telemetry::metric_definition& def);

/// Renders metrics: counters and sums as `counter`, last values as `gauge`,
/// distributions as `summary` with quantiles from `windowed` (the same
/// metrics collected over the window; nullptr: from `all_time`) and
/// all-time `_sum`/`_count`. Labels come from the tags; HELP from the
/// description (or the event). Metrics whose names clash after
/// sanitization are skipped with a comment.
std::string prometheus_text(const std::vector<telemetry::metric_value>& all_time,
                            const std::vector<telemetry::metric_value>* windowed,
                            const prometheus_format& fmt = {});

/// Collects `reg` and renders it.
std::string prometheus_text(const telemetry::metric_registry& reg,
                            const prometheus_format& fmt = {});

struct prometheus_options {
  /// Bind address; 127.0.0.1 unless told otherwise.
  std::string host = "127.0.0.1";
  /// 0: any free port (see `prometheus_exporter::port`).
  uint16_t port = 9464;
  std::string path = "/metrics";
  prometheus_format format;
  /// When set, scrapes must send "Authorization: Bearer <token>" (compared
  /// in constant time). Required when `host` is not a loopback address.
  std::string bearer_token;
};

/// An HTTP server answering `GET <path>` with the registry's metrics, on
/// its own thread. Serves until destroyed or stopped.
class prometheus_exporter {
public:
  /// Binds and starts serving. Errors: `invalid_options` (no registry, a
  /// non-loopback host without token, a path not starting with '/'),
  /// `network_error` (the address is taken or invalid).
  static caf::expected<std::unique_ptr<prometheus_exporter>>
  start(std::shared_ptr<const telemetry::metric_registry> reg,
        prometheus_options opts);

  ~prometheus_exporter();

  prometheus_exporter(const prometheus_exporter&) = delete;
  prometheus_exporter& operator=(const prometheus_exporter&) = delete;

  /// The bound port.
  uint16_t port() const noexcept;

  /// Scrapes answered so far.
  uint64_t scrapes() const noexcept;

  /// Stops serving and joins the thread. Idempotent.
  void stop();

private:
  struct impl;
  explicit prometheus_exporter(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// Spawns an actor that owns a `prometheus_exporter` (for a supervisor:
/// stopping the actor stops the server). `on_listen` receives the bound
/// port. The actor answers `get_atom` with the port (uint16_t).
caf::expected<caf::actor>
spawn_prometheus_exporter(caf::actor_system& sys,
                          std::shared_ptr<const telemetry::metric_registry> reg,
                          prometheus_options opts,
                          std::function<void(uint16_t)> on_listen = {});

/// Spawns an actor that owns an exporter already serving (so that a
/// caller learns about a taken port before anything runs).
caf::actor spawn_prometheus_exporter(caf::actor_system& sys,
                                     std::shared_ptr<prometheus_exporter> ex);

/// Where and how to push to a Prometheus Pushgateway.
struct pushgateway_options {
  /// "http://127.0.0.1:9091".
  std::string url = "http://127.0.0.1:9091";
  std::string job = "caflens";
  /// Grouping labels besides the job (e.g. {"instance", "node-1"}).
  std::vector<std::pair<std::string, std::string>> grouping;
  /// Push interval of `spawn_pushgateway_pusher`.
  std::chrono::milliseconds interval{10'000};
  std::chrono::milliseconds timeout{5'000};
  prometheus_format format;
};

/// PUTs `text` to the gateway's group (replacing the group's metrics).
/// Errors: `invalid_options` (bad URL or job), `network_error` (connection
/// failed or a non-2xx status, with the gateway's answer).
caf::error push_to_gateway(const pushgateway_options& opts,
                           const std::string& text);

/// An actor that pushes `reg` every `interval` and once more when it
/// terminates; failures are emitted as `caflens.sink.export.exception`.
caf::expected<caf::actor>
spawn_pushgateway_pusher(caf::actor_system& sys,
                         std::shared_ptr<const telemetry::metric_registry> reg,
                         pushgateway_options opts);

} // namespace caflens::sinks
