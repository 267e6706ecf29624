#pragma once

#include <optional>
#include <string>
#include <vector>

#include "caflens/telemetry/event_name.hpp"

namespace caflens::telemetry {

/// Describes one event that caflens emits.
struct event_info {
  event_name name;
  std::string description;
  /// Measurement keys (e.g. "system_time", "duration").
  std::vector<std::string> measurements;
  /// Metadata keys (e.g. "trace_id", "skill").
  std::vector<std::string> metadata;
};

/// Every event caflens emits, in catalogue order. Later components only add.
const std::vector<event_info>& catalogue();

/// Names of every event in the catalogue.
std::vector<event_name> event_names();

/// Names of the catalogue's events that start with `prefix`.
std::vector<event_name> event_names(const event_name& prefix);

/// The catalogue entry for `name`, if caflens emits it.
std::optional<event_info> info(const event_name& name);

/// Alias of `info` matching the wording.
inline std::optional<event_info> event_info_for(const event_name& name) {
  return info(name);
}

} // namespace caflens::telemetry
