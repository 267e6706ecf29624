#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/expected.hpp"

#include "caflens/llm/client_config.hpp"
#include "caflens/llm/http_transport.hpp"
#include "caflens/llm/message.hpp"
#include "caflens/llm/tool_definition.hpp"

namespace caflens::llm {

/// Token counts of one call as the provider reported them.
struct usage {
  /// Uncached prompt tokens (Anthropic `input_tokens`; OpenAI
  /// `prompt_tokens` minus cached tokens).
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  /// Prompt tokens served from the provider's cache.
  int64_t cache_read_tokens = 0;
  /// Anthropic only: prompt tokens written to the cache.
  int64_t cache_creation_tokens = 0;

  /// Everything the prompt cost: input + cache read + cache creation.
  int64_t prompt_tokens() const noexcept {
    return input_tokens + cache_read_tokens + cache_creation_tokens;
  }
};

/// One request to a model: system prompt, messages, tools.
struct completion_request {
  std::string system;
  std::vector<message> messages;
  tool_set tools;
  /// Forces this tool (`tool_choice`); empty lets the model choose.
  std::string forced_tool;
  /// Overrides the client's max_tokens when set.
  std::optional<int> max_tokens;
  /// Labels for telemetry and records.
  std::string trace_id;
  int64_t iteration = 0;
  /// The loop that asks ("coordinator", "operator:<skill>"; see
  /// `llm_brain::label`): copied into the recorded exchange.
  std::string loop;
  /// Time the call may take in all (attempts, retry waits, waiting for an
  /// open circuit breaker): every attempt's timeout is bounded by what is
  /// left; unset: the client's own timeouts only.
  std::optional<std::chrono::milliseconds> time_left;
  /// Polled while the call runs (between attempts, during waits and inside
  /// a transfer); true ends the call with `cancelled`.
  std::function<bool()> cancelled;
  /// When the endpoint's breaker is open: wait for its half-open probe
  /// (within `time_left`) rather than fail with `circuit_open`. A registry
  /// clears it for every client that has a fallback after it.
  bool wait_for_breaker = true;
};

/// The parsed reply of one call plus its accounting.
struct completion {
  /// Text blocks / content, joined.
  std::string text;
  /// Tool calls in order (unvalidated: names may be unknown, arguments may be
  /// null when the provider sent broken JSON).
  std::vector<tool_call> tool_calls;
  /// Provider's stop reason (`end_turn`, `tool_use`, `stop`, `length`, ...).
  std::string stop_reason;
  /// The model hit max_tokens; the text is incomplete.
  bool truncated = false;
  llm::usage usage;
  std::string response_id;
  /// Accounting, filled by the client.
  std::string client;
  std::string provider;
  std::string model;
  double cost_usd = 0;
  int attempts = 0;
  int retries = 0;
  std::chrono::nanoseconds latency{0};
};

/// Encodes requests and decodes responses of one wire protocol. Stateless,
/// hence thread-safe.
class wire_format {
public:
  virtual ~wire_format();

  virtual provider_kind kind() const noexcept = 0;

  /// Auth and protocol headers (Content-Type included). `api_key` may be
  /// empty (then no auth header is sent).
  virtual std::vector<http_header>
  headers(const client_config& cfg, const std::string& api_key) const = 0;

  /// The request body in the provider's documented shape.
  virtual nlohmann::json encode(const completion_request& req,
                                const client_config& cfg) const = 0;

  /// Decodes a response of any status: a completion for a well-formed
  /// success, otherwise an error classified by status and error body
  /// (rate_limited, overloaded, server_error, auth_failed, quota_exceeded,
  /// bad_request, model_not_found, context_overflow, invalid_response).
  virtual caf::expected<completion> decode(const http_response& resp) const = 0;

  static std::unique_ptr<wire_format> make(provider_kind kind);
};

} // namespace caflens::llm
