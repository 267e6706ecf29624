#include "caflens/llm/client_config.hpp"

#include "caflens/llm/detail/error.hpp"

namespace caflens::llm {

std::string_view to_string(provider_kind x) noexcept {
  switch (x) {
    case provider_kind::anthropic:
      return "anthropic";
    case provider_kind::openai_compatible:
      return "openai_compatible";
  }
  return "unknown";
}

caf::expected<provider_kind> parse_provider_kind(std::string_view x) {
  if (x == "anthropic")
    return provider_kind::anthropic;
  if (x == "openai" || x == "openai_compatible" || x == "ollama" ||
      x == "vllm" || x == "llamacpp" || x == "llama.cpp" || x == "openrouter")
    return provider_kind::openai_compatible;
  return detail::llm_error(llm_errc::invalid_config,
                           "llm provider '" + std::string{x} +
                             "' is unknown; known: anthropic, openai, "
                             "ollama, vllm, llamacpp, openrouter");
}

caf::error client_config::validate() const {
  auto bad = [&](std::string key, std::string why) {
    return detail::llm_error(llm_errc::invalid_config,
                             "llm client '" + name + "': " + key + " " + why);
  };
  if (name.empty())
    return bad("name", "must not be empty");
  if (base_url.rfind("http://", 0) != 0 && base_url.rfind("https://", 0) != 0)
    return bad("base_url",
               "'" + base_url + "' must start with http:// or https://");
  if (model.empty())
    return bad("model", "must not be empty");
  if (max_tokens < 1)
    return bad("max_tokens", "must be >= 1, got " + std::to_string(max_tokens));
  auto max_temp = provider == provider_kind::anthropic ? 1.0 : 2.0;
  if (temperature && (*temperature < 0 || *temperature > max_temp))
    return bad("temperature", "must be in [0, " + std::to_string(max_temp) +
                                "], got " + std::to_string(*temperature));
  if (connect_timeout.count() <= 0 || read_timeout.count() <= 0)
    return bad("connect_timeout/read_timeout", "must be > 0");
  if (price_input_per_million < 0 || price_output_per_million < 0)
    return bad("price_*_per_million", "must be >= 0");
  if (retry.max_attempts < 1)
    return bad("retry.max_attempts",
               "must be >= 1, got " + std::to_string(retry.max_attempts));
  if (breaker.failure_threshold < 1)
    return bad("breaker.failure_threshold", "must be >= 1");
  if (context_window && *context_window <= max_tokens)
    return bad("context_window", "must exceed max_tokens ("
                                   + std::to_string(max_tokens) + "), got "
                                   + std::to_string(*context_window));
  if (send_num_ctx && !context_window)
    return bad("send_num_ctx", "needs a context_window");
  if (stall_timeout.count() <= 0)
    return bad("stall_timeout", "must be > 0, got "
                                  + std::to_string(stall_timeout.count()));
  if (max_concurrent < 0)
    return bad("max_concurrent",
               "must be >= 0, got " + std::to_string(max_concurrent));
  return caf::none;
}

std::string client_config::endpoint() const {
  auto base = base_url;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  if (provider == provider_kind::anthropic)
    return base + "/v1/messages";
  return base + "/chat/completions";
}

} // namespace caflens::llm
