#include "caflens/sinks/prometheus_collectable.hpp"

#include <cmath>
#include <set>

namespace caflens::sinks {

prometheus_collectable::prometheus_collectable(
  std::shared_ptr<const telemetry::metric_registry> reg, prometheus_format fmt)
  : reg_(std::move(reg)), fmt_(std::move(fmt)) {
}

std::vector<prometheus::MetricFamily> prometheus_collectable::Collect() const {
  using telemetry::metric_kind;
  std::vector<prometheus::MetricFamily> out;
  if (!reg_)
    return out;
  auto all = reg_->collect_all();
  std::vector<telemetry::metric_value> win;
  if (fmt_.quantile_window.count() > 0)
    win = reg_->collect_all(fmt_.quantile_window);
  std::set<std::string> seen;
  for (size_t mi = 0; mi < all.size(); ++mi) {
    auto& mv = all[mi];
    auto& def = mv.definition;
    prometheus::MetricFamily fam;
    fam.name = prometheus_name(def);
    if (!seen.insert(fam.name).second)
      continue; // a name clash after sanitizing: the first one wins
    fam.help = prometheus_help(def);
    switch (def.kind) {
      case metric_kind::counter:
      case metric_kind::sum:
        fam.type = prometheus::MetricType::Counter;
        break;
      case metric_kind::last_value:
        fam.type = prometheus::MetricType::Gauge;
        break;
      case metric_kind::distribution:
        fam.type = prometheus::MetricType::Summary;
        break;
    }
    for (auto& s : mv.series) {
      prometheus::ClientMetric m;
      for (auto& [k, v] : s.tags) {
        auto name = prometheus_label_name(k);
        if (def.kind == metric_kind::distribution && name == "quantile")
          name = "tag_quantile";
        m.label.push_back({name, v});
      }
      switch (def.kind) {
        case metric_kind::counter:
        case metric_kind::sum:
          m.counter.value = s.value;
          break;
        case metric_kind::last_value:
          m.gauge.value = s.value;
          break;
        case metric_kind::distribution: {
          m.summary.sample_count = s.updates;
          m.summary.sample_sum = s.value;
          const telemetry::ddsketch* sk = s.distribution ? &*s.distribution
                                                         : nullptr;
          if (mi < win.size() && win[mi].definition.name == def.name)
            for (auto& ws : win[mi].series)
              if (ws.tags == s.tags && ws.distribution)
                sk = &*ws.distribution;
          for (auto q : fmt_.quantiles)
            m.summary.quantile.push_back(
              {q, sk != nullptr && !sk->empty() ? sk->quantile(q)
                                                : std::nan("")});
          break;
        }
      }
      fam.metric.push_back(std::move(m));
    }
    out.push_back(std::move(fam));
  }
  return out;
}

} // namespace caflens::sinks
