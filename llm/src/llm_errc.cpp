#include "caflens/llm/llm_errc.hpp"

#include "caflens/llm/detail/error.hpp"

namespace caflens::llm {

std::string to_string(llm_errc code) {
  switch (code) {
    case llm_errc::invalid_config:
      return "invalid_config";
    case llm_errc::missing_api_key:
      return "missing_api_key";
    case llm_errc::connection_failed:
      return "connection_failed";
    case llm_errc::timeout:
      return "timeout";
    case llm_errc::transport_error:
      return "transport_error";
    case llm_errc::rate_limited:
      return "rate_limited";
    case llm_errc::overloaded:
      return "overloaded";
    case llm_errc::server_error:
      return "server_error";
    case llm_errc::auth_failed:
      return "auth_failed";
    case llm_errc::quota_exceeded:
      return "quota_exceeded";
    case llm_errc::bad_request:
      return "bad_request";
    case llm_errc::model_not_found:
      return "model_not_found";
    case llm_errc::context_overflow:
      return "context_overflow";
    case llm_errc::invalid_response:
      return "invalid_response";
    case llm_errc::response_truncated:
      return "response_truncated";
    case llm_errc::circuit_open:
      return "circuit_open";
    case llm_errc::no_client:
      return "no_client";
    case llm_errc::invalid_tool_call:
      return "invalid_tool_call";
    case llm_errc::budget_exhausted:
      return "budget_exhausted";
    case llm_errc::replay_mismatch:
      return "replay_mismatch";
    case llm_errc::script_exhausted:
      return "script_exhausted";
    case llm_errc::invalid_argument:
      return "invalid_argument";
    case llm_errc::cancelled:
      return "cancelled";
    case llm_errc::deadline_exceeded:
      return "deadline_exceeded";
    case llm_errc::stalled:
      return "stalled";
  }
  return "unknown_llm_errc(" + std::to_string(static_cast<int>(code)) + ")";
}

bool is_retryable(llm_errc code) noexcept {
  switch (code) {
    case llm_errc::connection_failed:
    case llm_errc::timeout:
    case llm_errc::stalled:
    case llm_errc::transport_error:
    case llm_errc::rate_limited:
    case llm_errc::overloaded:
    case llm_errc::server_error:
    case llm_errc::invalid_response:
      return true;
    default:
      return false;
  }
}

namespace {

std::string render_llm_errc(uint8_t code) {
  return to_string(static_cast<llm_errc>(code));
}

// Registered at static initialization; this TU is always linked because every
// error of the component is made through `detail::llm_error`.
[[maybe_unused]] const bool registered =
  register_error_category(llm_errc_category, render_llm_errc);

} // namespace

namespace detail {

caf::error llm_error(llm_errc code, std::string text) {
  return make_error(code, std::move(text));
}

} // namespace detail

std::optional<llm_errc> llm_code(const caf::error& err) {
  if (!err || err.category() != llm_errc_category)
    return std::nullopt;
  return static_cast<llm_errc>(err.code());
}

} // namespace caflens::llm
