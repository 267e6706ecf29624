#include "caflens/sandbox/sandbox_errc.hpp"

namespace caflens::sandbox {

std::string to_string(sandbox_errc code) {
  switch (code) {
    case sandbox_errc::invalid_argument:
      return "invalid_argument";
    case sandbox_errc::syntax_error:
      return "syntax_error";
    case sandbox_errc::runtime_error:
      return "runtime_error";
    case sandbox_errc::callback_failed:
      return "callback_failed";
    case sandbox_errc::stack_overflow:
      return "stack_overflow";
    case sandbox_errc::instruction_limit_exceeded:
      return "instruction_limit_exceeded";
    case sandbox_errc::memory_limit_exceeded:
      return "memory_limit_exceeded";
    case sandbox_errc::wall_time_limit_exceeded:
      return "wall_time_limit_exceeded";
    case sandbox_errc::invalid_result:
      return "invalid_result";
    case sandbox_errc::result_too_large:
      return "result_too_large";
    case sandbox_errc::internal_error:
      return "internal_error";
  }
  return "unknown sandbox_errc";
}

namespace {

std::string render(uint8_t code) {
  return to_string(static_cast<sandbox_errc>(code));
}

[[maybe_unused]] const bool registered =
  register_error_category(sandbox_errc_category, render);

} // namespace

} // namespace caflens::sandbox
