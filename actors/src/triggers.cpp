#include "triggers.hpp"

#include <cstdio>
#include <exception>
#include <vector>

#include "caflens/skills/anomaly.hpp"

#include "engine.hpp"

namespace caflens::actors {

std::string alert_reason(const alert_request& alert) {
  return "alert " + alert.name
         + (alert.details.empty() ? std::string{} : ": " + alert.details);
}

std::optional<std::string> poll_anomalies(engine& eng) {
  auto& det = *eng.anomaly();
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
  if (found.empty())
    return std::nullopt;
  auto& a = found.front();
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "anomaly: %s.%s = %.6g (baseline %.6g, z = %.1f)",
                a.skill.c_str(), a.field.c_str(), a.value, a.mean, a.z);
  return std::string{buf};
}

} // namespace caflens::actors
