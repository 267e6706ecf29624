#include "triggers.hpp"

#include <cstdio>
#include <exception>
#include <vector>

#include "caflens/skills/anomaly.hpp"
#include "caflens/telemetry/bus.hpp"

#include "engine.hpp"

namespace caflens::actors {

std::string alert_reason(const alert_request& alert) {
  return "alert " + alert.name
         + (alert.details.empty() ? std::string{} : ": " + alert.details);
}

std::optional<std::string> poll_anomalies(engine& eng,
                                          bool& baseline_reported) {
  auto& det = *eng.anomaly();
  auto& bus = telemetry::bus::global();
  auto now = [] {
    return static_cast<double>(telemetry::bus::system_time());
  };
  std::vector<skills::anomaly> found;
  for (auto& sk : eng.skills()) {
    if (sk->name() == "anomaly" || sk->name() == "supervision")
      continue;
    try {
      auto xs = det.observe(sk->name(), sk->snapshot());
      found.insert(found.end(), xs.begin(), xs.end());
    } catch (const std::exception&) {
      // A failing snapshot is not an anomaly of the application.
    }
  }
  if (!baseline_reported && !det.learning()) {
    baseline_reported = true;
    size_t fields = 0;
    auto learned = det.baselines();
    for (auto& by_field : learned)
      fields += by_field.size();
    bus.execute(telemetry::event_name{"caflens", "anomaly", "baseline_ready"},
                {{"system_time", now()},
                 {"fields", static_cast<double>(fields)}});
  }
  if (found.empty())
    return std::nullopt;
  auto& a = found.front();
  bus.execute(telemetry::event_name{"caflens", "anomaly", "triggered"},
              {{"system_time", now()},
               {"z_score", a.z},
               {"value", a.value},
               {"baseline", a.mean}},
              {{"skill", a.skill}, {"field", a.field}});
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "anomaly: %s.%s = %.6g (baseline %.6g, z = %.1f)",
                a.skill.c_str(), a.field.c_str(), a.value, a.mean, a.z);
  return std::string{buf};
}

} // namespace caflens::actors
