#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "caf/make_message.hpp"

#include "caflens/telemetry/error.hpp"

namespace caflens::llm {

/// Errors of the llm component. Error contexts carry a human-readable text
/// that names the client and the offending input; it never contains an API
/// key (every text passes the redactor first).
enum class llm_errc : uint8_t {
  /// A client or brain configuration is inconsistent (names the key).
  invalid_config = 1,
  /// The environment variable that should hold the API key is unset/empty.
  missing_api_key,
  /// TCP connect failed (connection refused, DNS failure, ...).
  connection_failed,
  /// The connect or read timeout elapsed.
  timeout,
  /// The connection broke mid-response (truncated body, reset, empty reply).
  transport_error,
  /// HTTP 429 rate limit (retryable, honours Retry-After).
  rate_limited,
  /// The provider is overloaded or busy (HTTP 529/503).
  overloaded,
  /// Any other 5xx, or a provider error reported inside a 200 body.
  server_error,
  /// HTTP 401/403: the key is missing, wrong or lacks permission.
  auth_failed,
  /// HTTP 429 that needs user action (insufficient quota, billing).
  quota_exceeded,
  /// HTTP 400/422 other than a context overflow.
  bad_request,
  /// HTTP 404: unknown model or endpoint.
  model_not_found,
  /// The prompt exceeds the model's context window.
  context_overflow,
  /// A response body that is not the documented shape (non-JSON, no choices).
  invalid_response,
  /// The model stopped at max_tokens / length: the answer is incomplete.
  response_truncated,
  /// The client's circuit breaker is open; no request was sent.
  circuit_open,
  /// The registry has no client under that name or no client at all.
  no_client,
  /// The model kept producing invalid tool calls beyond the re-ask bound.
  invalid_tool_call,
  /// The investigation's budget is spent and the final answer was asked for.
  budget_exhausted,
  /// A replayed exchange does not match the request or the log ran out.
  replay_mismatch,
  /// A scripted brain has no more tool calls to replay.
  script_exhausted,
  /// An argument is out of its valid range.
  invalid_argument,
  /// The call was cancelled (the investigation ended or was cancelled);
  /// a transfer in progress is interrupted.
  cancelled,
  /// The investigation's deadline left no time for the call (or for one
  /// more attempt).
  deadline_exceeded,
  /// A streamed reply sent no byte for `client_config::stall_timeout`
  /// (retryable: the connection is dropped and the call tried again).
  stalled,
};

std::string to_string(llm_errc code);

/// True for errors a client retries (subject to its retry policy).
bool is_retryable(llm_errc code) noexcept;

CAFLENS_ERROR_CATEGORY(llm_errc, "llm");

/// The llm code of `err`, or nullopt for errors of other categories.
std::optional<llm_errc> llm_code(const caf::error& err);

} // namespace caflens::llm
