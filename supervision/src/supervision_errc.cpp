#include "caflens/supervision/supervision_errc.hpp"

namespace caflens::supervision {

std::string to_string(supervision_errc code) {
  switch (code) {
    case supervision_errc::invalid_flags:
      return "invalid_flags";
    case supervision_errc::invalid_child_spec:
      return "invalid_child_spec";
    case supervision_errc::bad_combination:
      return "bad_combination";
    case supervision_errc::duplicate_child_id:
      return "duplicate_child_id";
    case supervision_errc::not_found:
      return "not_found";
    case supervision_errc::already_present:
      return "already_present";
    case supervision_errc::already_started:
      return "already_started";
    case supervision_errc::running:
      return "running";
    case supervision_errc::restarting:
      return "restarting";
    case supervision_errc::simple_one_for_one:
      return "simple_one_for_one";
    case supervision_errc::not_simple_one_for_one:
      return "not_simple_one_for_one";
    case supervision_errc::start_error:
      return "start_error";
    case supervision_errc::failed_to_start_child:
      return "failed_to_start_child";
    case supervision_errc::shutdown:
      return "shutdown";
    case supervision_errc::start_function_threw:
      return "start_function_threw";
    case supervision_errc::invalid_start_result:
      return "invalid_start_result";
    case supervision_errc::shutting_down:
      return "shutting_down";
  }
  return "unknown(" + std::to_string(static_cast<int>(code)) + ")";
}

namespace {

// Registers the renderer at static initialization. This TU is always linked
// with the supervisor (spawn_supervisor uses `to_string` from here).
const bool registered =
  caflens::register_error_category(supervision_errc_category, [](uint8_t code) {
    return to_string(static_cast<supervision_errc>(code));
  });

} // namespace

namespace detail {

bool error_category_registered() noexcept {
  return registered;
}

} // namespace detail

} // namespace caflens::supervision
