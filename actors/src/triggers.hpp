// What starts an investigation without a caller: alerts, schedules and the
// anomaly poll (private header). No actor code.
#pragma once

#include <optional>
#include <string>

#include "caflens/actors/messages.hpp"

namespace caflens::actors {

class engine;

/// The reason of an investigation for `alert`.
std::string alert_reason(const alert_request& alert);

/// Looks at every skill the anomaly detector follows (one snapshot each)
/// and names the first anomaly ("anomaly: actors.top_mailbox = 4.2e+04
/// (baseline 12, z = 9.1)"), or nullopt. A skill whose snapshot fails is
/// skipped: that is no anomaly of the application. Emits
/// `caflens.anomaly.triggered` for the anomaly it names, and
/// `caflens.anomaly.baseline_ready` once, on the first poll after the
/// detector's learning time (`baseline_reported` remembers it).
std::optional<std::string> poll_anomalies(engine& eng,
                                          bool& baseline_reported);

} // namespace caflens::actors
