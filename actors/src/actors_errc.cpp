#include "caflens/actors/actors_errc.hpp"

namespace caflens {

std::string to_string(actors_errc code) {
  switch (code) {
    case actors_errc::invalid_config:
      return "invalid_config";
    case actors_errc::invalid_request:
      return "invalid_request";
    case actors_errc::queue_full:
      return "queue_full";
    case actors_errc::busy:
      return "busy";
    case actors_errc::cancelled:
      return "cancelled";
    case actors_errc::deadline:
      return "deadline";
    case actors_errc::brain_failed:
      return "brain_failed";
    case actors_errc::not_found:
      return "not_found";
    case actors_errc::unavailable:
      return "unavailable";
    case actors_errc::action_denied:
      return "action_denied";
    case actors_errc::action_failed:
      return "action_failed";
    case actors_errc::handshake_refused:
      return "handshake_refused";
    case actors_errc::node_unreachable:
      return "node_unreachable";
    case actors_errc::timeout:
      return "timeout";
  }
  return "unknown actors_errc";
}

namespace {

std::string render(uint8_t code) {
  return to_string(static_cast<actors_errc>(code));
}

const bool registered
  = register_error_category(actors_errc_category, render);

} // namespace

bool actors_errc_registered() noexcept {
  // Referencing this keeps the registration in a static link.
  return registered;
}

} // namespace caflens
