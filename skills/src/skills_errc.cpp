#include "caflens/skills/skills_errc.hpp"

namespace caflens::skills {

std::string to_string(skills_errc code) {
  switch (code) {
    case skills_errc::invalid_argument:
      return "invalid_argument";
    case skills_errc::not_found:
      return "not_found";
    case skills_errc::unresponsive:
      return "unresponsive";
    case skills_errc::no_state:
      return "no_state";
    case skills_errc::unavailable:
      return "unavailable";
    case skills_errc::limit_reached:
      return "limit_reached";
    case skills_errc::already_exists:
      return "already_exists";
  }
  return "unknown skills_errc";
}

namespace {

std::string render(uint8_t code) {
  return to_string(static_cast<skills_errc>(code));
}

[[maybe_unused]] const bool registered
  = register_error_category(skills_errc_category, render);

} // namespace

} // namespace caflens::skills
