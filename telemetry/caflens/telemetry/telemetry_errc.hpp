#pragma once

#include <cstdint>
#include <string>

#include "caf/make_message.hpp"

#include "caflens/telemetry/error.hpp"

namespace caflens::telemetry {

/// Errors of the telemetry component.
enum class telemetry_errc : uint8_t {
  /// An event name is empty or has an empty segment or a '.' in a segment.
  invalid_event_name = 1,
  /// A handler or metric with this id is attached already.
  already_exists,
  /// No handler or metric with this id.
  not_found,
  /// A metric definition is inconsistent (e.g. a sum without measurement).
  invalid_metric,
  /// An argument is out of its valid range.
  invalid_argument,
};

std::string to_string(telemetry_errc code);

CAFLENS_ERROR_CATEGORY(telemetry_errc, "telemetry");

} // namespace caflens::telemetry
