#pragma once

// Built when Debian's prometheus-cpp-dev is found: link
// caflens::prometheus_cpp.

#include <memory>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "caflens/sinks/prometheus.hpp"
#include "caflens/telemetry/metrics.hpp"

namespace caflens::sinks {

/// caflens's metrics as a prometheus-cpp `Collectable`, for applications
/// that already run prometheus-cpp: `exposer.RegisterCollectable(
/// std::make_shared<prometheus_collectable>(lens->metrics()))` serves them
/// beside their own. Same mapping as `prometheus_text`: counters and sums as
/// counters (`_total`), last values as gauges, distributions as summaries
/// (quantiles over the format's window, all-time count and sum).
class prometheus_collectable final : public prometheus::Collectable {
public:
  explicit prometheus_collectable(
    std::shared_ptr<const telemetry::metric_registry> reg,
    prometheus_format fmt = {});

  std::vector<prometheus::MetricFamily> Collect() const override;

private:
  std::shared_ptr<const telemetry::metric_registry> reg_;
  prometheus_format fmt_;
};

} // namespace caflens::sinks
