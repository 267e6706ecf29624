#include "caflens/telemetry/telemetry_errc.hpp"

namespace caflens::telemetry {

std::string to_string(telemetry_errc code) {
  switch (code) {
    case telemetry_errc::invalid_event_name:
      return "invalid_event_name";
    case telemetry_errc::already_exists:
      return "already_exists";
    case telemetry_errc::not_found:
      return "not_found";
    case telemetry_errc::invalid_metric:
      return "invalid_metric";
    case telemetry_errc::invalid_argument:
      return "invalid_argument";
  }
  return "unknown telemetry_errc";
}

namespace {

std::string render(uint8_t code) {
  return to_string(static_cast<telemetry_errc>(code));
}

[[maybe_unused]] const bool registered
  = register_error_category(telemetry_errc_category, render);

} // namespace

} // namespace caflens::telemetry
