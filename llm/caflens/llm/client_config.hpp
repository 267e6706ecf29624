#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "caf/error.hpp"
#include "caf/expected.hpp"

#include "caflens/llm/circuit_breaker.hpp"
#include "caflens/llm/retry_policy.hpp"

namespace caflens::llm {

/// The wire protocol a client speaks.
enum class provider_kind : uint8_t {
  /// Anthropic Messages API (`POST {base}/v1/messages`, x-api-key).
  anthropic,
  /// OpenAI-compatible Chat Completions (`POST {base}/chat/completions`,
  /// Bearer key): OpenAI, Ollama, vLLM, llama.cpp, OpenRouter.
  openai_compatible,
};

std::string_view to_string(provider_kind x) noexcept;

/// Parses "anthropic", or "openai" and its compatible servers ("ollama",
/// "vllm", "llamacpp", "llama.cpp", "openrouter", "openai_compatible").
caf::expected<provider_kind> parse_provider_kind(std::string_view x);

/// Everything one client needs. A value type.
struct client_config {
  /// Unique name in the registry ("primary", "local-ollama").
  std::string name;
  provider_kind provider = provider_kind::anthropic;
  /// Anthropic: "https://api.anthropic.com" (the client appends
  /// "/v1/messages"); OpenAI-compatible: "https://api.openai.com/v1",
  /// "http://localhost:11434/v1" (the client appends "/chat/completions").
  std::string base_url;
  std::string model;
  /// The NAME of the environment variable that holds the API key (read at
  /// call time, never stored). Empty: no key is sent (local servers).
  std::string api_key_env;
  std::chrono::milliseconds connect_timeout{10000};
  /// Time allowed for the response once connected (curl's total timeout is
  /// connect + read).
  std::chrono::milliseconds read_timeout{120000};
  int max_tokens = 2048;
  std::optional<double> temperature;
  /// Prices in USD per million tokens; cache reads cost
  /// `price_cache_read_per_million` when set, else the input price.
  double price_input_per_million = 0;
  double price_output_per_million = 0;
  std::optional<double> price_cache_read_per_million;
  /// Anthropic only: the `anthropic-version` header.
  std::string anthropic_version = "2023-06-01";
  retry_policy retry;
  circuit_breaker_config breaker;
  /// The model's context window in tokens, when known: the LLM brain
  /// compacts a conversation before it outgrows it (less the reply's
  /// max_tokens and a margin).
  std::optional<int> context_window;
  /// OpenAI-compatible only: send the context window as Ollama's
  /// `options.num_ctx` (Ollama otherwise runs a model with its small
  /// default window and silently drops the start of a long prompt). Set for
  /// provider "ollama".
  bool send_num_ctx = false;
  /// OpenAI-compatible only: name the output limit `max_completion_tokens`
  /// (OpenAI's current name; its reasoning models refuse `max_tokens`)
  /// instead of `max_tokens` (local servers). Default: on for
  /// api.openai.com.
  std::optional<bool> max_completion_tokens;
  /// Calls in flight at once to this endpoint, over every client and loop
  /// of the process (0: no limit). A local server serves one at a time: the
  /// others wait for a slot within their time left instead of timing out
  /// in its queue. Default 1 for ollama and llama.cpp.
  int max_concurrent = 0;
  /// Asks for a streamed reply (`stream: true`, server-sent events): a slow
  /// model shows progress (`caflens.llm.stream` events) and a reply that
  /// stops flowing is detected after `stall_timeout` and tried again,
  /// long before `read_timeout`. A server that ignores the flag and answers
  /// plain JSON is read as usual. Off by default (some servers refuse it).
  bool stream = false;
  /// Streaming only: the longest silence (no byte) within a reply that has
  /// begun before it counts as stalled. The wait for the first byte (time
  /// to first token of a local model on a long prompt, or a server that
  /// ignores `stream` and sends its JSON at the end) is bounded by
  /// `read_timeout` only.
  std::chrono::milliseconds stall_timeout{60000};

  /// Checks every field; the error names the key and the bad value.
  caf::error validate() const;

  /// The endpoint URL for this provider.
  std::string endpoint() const;
};

} // namespace caflens::llm
