// Choosing the model in code: a registry of LLM clients (Claude through the
// Anthropic Messages API first, a local Ollama through its OpenAI-compatible
// API as the fallback) given to the lens as `config.llm`, which takes
// precedence over the environment's ANTHROPIC_API_KEY / OPENAI_API_KEY /
// CAFLENS_LLM_*.
//
//   ANTHROPIC_API_KEY=... build/apps/examples/llm_provider
//
// With the key set it asks Claude; without it, Ollama on 127.0.0.1:11434
// (`ollama pull qwen2.5:14b`). When neither answers, the model calls fail and
// the investigation goes on with the rule brain: the report says
// `brain: llm+rule` and names the failure (what the CTest entry checks,
// offline, with ANTHROPIC_API_KEY empty).
#include <iostream>
#include <memory>

#include "caf/all.hpp"

#include "caflens/caflens.hpp"
#include "caflens/llm/client_registry.hpp"

int main() {
  caf::actor_system_config sys_cfg;
  caflens::add_message_types(sys_cfg);
  caf::actor_system sys{sys_cfg};

  namespace llm = caflens::llm;
  llm::client_config claude;                  // Anthropic Messages API
  claude.name = "claude";
  claude.provider = llm::provider_kind::anthropic;
  claude.base_url = "https://api.anthropic.com";
  claude.model = "claude-sonnet-4-5";
  claude.api_key_env = "ANTHROPIC_API_KEY";   // its name: read at call time
  claude.price_input_per_million = 3;         // USD, for the result's cost
  claude.price_output_per_million = 15;

  llm::client_config local;                   // any OpenAI-compatible server
  local.name = "local";
  local.provider = llm::provider_kind::openai_compatible;
  local.base_url = "http://127.0.0.1:11434/v1"; // Ollama; no api_key_env
  local.model = "qwen2.5:14b";
  local.context_window = 32768;               // caps the conversation, and
  local.send_num_ctx = true;                  // is sent to Ollama as num_ctx
  local.max_concurrent = 1;                   // one call at a time

  auto models = std::make_shared<llm::client_registry>();
  for (auto& c : {claude, local})
    if (auto err = models->add(c)) {
      std::cerr << caflens::render_error(err) << '\n';
      return 1;
    }
  models->set_primary("claude");
  models->set_fallbacks("claude", {"local"}); // when Claude fails

  caflens::config cfg;
  cfg.llm = models;
  auto lens = caflens::start(sys, cfg);
  if (!lens) {
    std::cerr << caflens::render_error(lens.error()) << '\n';
    return 1;
  }
  auto res = lens->investigate("is anything wrong?");
  if (!res) {
    std::cerr << caflens::render_error(res.error()) << '\n';
    return 1;
  }
  std::cout << caflens::render_report(*res); // brain, errors, insights
  lens->stop();
  return 0;
}
