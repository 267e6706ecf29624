#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "caflens/sinks/sink.hpp"
#include "caflens/telemetry/metrics.hpp"

namespace caflens::sinks {

struct statsd_options {
  std::string host = "127.0.0.1";
  uint16_t port = 8125;
  /// Prepended to every metric name ("myapp." gives "myapp.caflens.x").
  std::string prefix;
  /// DogStatsD tags ("|#worker:w2,skill:os"); otherwise tag values are
  /// appended to the name ("caflens.x.w2.os"), as plain StatsD has no tags.
  bool dogstatsd_tags = false;
  /// Lines are packed into datagrams of at most this many bytes (1432 fits
  /// a 1500-byte MTU with IPv6 and UDP headers).
  size_t max_packet = 1432;
  /// The metrics sent, one line per event: counter → `name:1|c`,
  /// sum → `name:v|c`, last_value → `name:v|g`, distribution → `name:v|ms`
  /// (the measurement's value; StatsD treats timers as milliseconds).
  std::vector<telemetry::metric_definition> metrics;
};

/// Sends metrics over UDP in the StatsD line protocol (optionally with
/// DogStatsD tags). The sink's events are the metrics' events.
class statsd_sink final : public sink {
public:
  /// Resolves and connects the UDP socket. Errors: `invalid_options` (no
  /// metrics, port 0, an invalid metric), `network_error` (resolution).
  static caf::expected<std::shared_ptr<statsd_sink>>
  open(sink_options opts, statsd_options sopts);

  ~statsd_sink() override;

  /// The lines one record produces (without newlines).
  std::vector<std::string> lines(const record& x) const;

protected:
  caf::error export_(const batch& xs) override;
  void close_() override;

private:
  statsd_sink(sink_options opts, statsd_options sopts);

  caf::error send_packet(const std::string& packet);

  statsd_options sopts_;
  int fd_ = -1;
};

sink_factory statsd_sink_factory(sink_options opts, statsd_options sopts);

} // namespace caflens::sinks
