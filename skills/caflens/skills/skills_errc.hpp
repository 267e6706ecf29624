#pragma once

#include <cstdint>
#include <string>

#include "caf/make_message.hpp"

#include "caflens/telemetry/error.hpp"

namespace caflens::skills {

/// Errors of the skills component.
enum class skills_errc : uint8_t {
  /// A callback argument is missing or out of range.
  invalid_argument = 1,
  /// No such actor, skill, trace or entry.
  not_found,
  /// A tracked actor did not answer `get_state` in time.
  unresponsive,
  /// A tracked actor exposes no state.
  no_state,
  /// Reading an OS source failed.
  unavailable,
  /// A tracer limit was reached or a trace is running already.
  limit_reached,
  /// A skill with this name is registered already.
  already_exists,
};

std::string to_string(skills_errc code);

CAFLENS_ERROR_CATEGORY(skills_errc, "skills");

} // namespace caflens::skills
